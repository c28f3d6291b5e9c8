"""Finding plugins: built-in YAML configs, users' config directories and entry points.

A plugin is a class implementing one base of :mod:`dse.interfaces` plus a config that
names it with ``_target_``. Three ways to make one available:

* a YAML file ``<config dir>/<group>/<name>.yaml`` (built-ins live in ``conf/``; users pass
  ``--config-dir`` or ``hydra.searchpath``);
* a third-party package's entry point in the group ``snn_dse.plugins``, named
  ``<group>.<name>`` with value ``module:Class``: its config is derived from the class's
  constructor and stored in Hydra's ConfigStore, so ``<group>=<name>`` just works.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

import yaml

from dse.config import check_interface, import_target, schema_for
from dse.errors import PluginError
from dse.interfaces import PLUGIN_KINDS

ENTRY_POINT_GROUP = "snn_dse.plugins"
# The built-in configs: dse/conf (in a checkout, a link to the top-level conf/ folder).
CONF_DIR = Path(__file__).resolve().parent / "conf"


@dataclass(frozen=True)
class PluginInfo:
    group: str
    name: str
    target: str
    source: str  # the YAML file or entry point that provides it

    def description(self) -> str:
        """First line of the class docstring (imports the class)."""
        try:
            cls = import_target(self.target, self.group)
        except PluginError as err:
            return f"(cannot import: {err})"
        doc = inspect.getdoc(cls) or ""
        return doc.splitlines()[0] if doc else ""


def _entry_points() -> list[tuple[str, str, str]]:
    found = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        group, _, name = ep.name.partition(".")
        if group not in PLUGIN_KINDS or not name:
            raise PluginError(
                f"entry point {ep.name!r} in {ENTRY_POINT_GROUP} must be named <group>.<name> "
                f"with group one of {', '.join(PLUGIN_KINDS)}"
            )
        found.append((group, name, ep.value.replace(":", ".")))
    return found


def register_entry_point_plugins() -> None:
    """Store a config for every entry-point plugin in Hydra's ConfigStore."""
    from hydra.core.config_store import ConfigStore

    store = ConfigStore.instance()
    for group, name, target in _entry_points():
        cls = import_target(target, group)
        check_interface(cls, group)
        store.store(group=group, name=name, node=schema_for(cls), provider=ENTRY_POINT_GROUP)


def available_plugins(config_dirs: list[Path] | None = None) -> dict[str, list[PluginInfo]]:
    """Every plugin per group: built-ins first, then users' config dirs, then entry points."""
    out: dict[str, dict[str, PluginInfo]] = {group: {} for group in PLUGIN_KINDS}
    for folder in [CONF_DIR, *(config_dirs or [])]:
        for group in PLUGIN_KINDS:
            for path in sorted((Path(folder) / group).glob("*.yaml")):
                node = yaml.safe_load(path.read_text()) or {}
                target = node.get("_target_")
                if target:
                    out[group][path.stem] = PluginInfo(group, path.stem, target, str(path))
    for group, name, target in _entry_points():
        out[group][name] = PluginInfo(group, name, target, f"entry point {ENTRY_POINT_GROUP}")
    return {group: list(infos.values()) for group, infos in out.items()}


def format_plugin_list(plugins: dict[str, list[PluginInfo]]) -> str:
    lines = []
    for group, infos in plugins.items():
        lines.append(f"{group}:")
        width = max((len(i.name) for i in infos), default=0)
        for info in infos:
            lines.append(f"  {info.name:<{width}}  {info.description()}")
    return "\n".join(lines)
