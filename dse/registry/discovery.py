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
import re
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig

from dse.api.errors import ConfigError, PluginError
from dse.api.interfaces import PLUGIN_KINDS
from dse.registry.schema import (
    build_plugin,
    check_interface,
    import_target,
    register_schemas,
    schema_for,
)

ENTRY_POINT_GROUP = "snn_dse.plugins"
# The built-in configs: dse/conf (in a checkout, a link to the top-level conf/ folder).
CONF_DIR = Path(__file__).resolve().parents[1] / "conf"


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
    for group in PLUGIN_KINDS:
        files = {
            path.stem: path
            for folder in [CONF_DIR, *(config_dirs or [])]
            for path in sorted((Path(folder) / group).glob("*.yaml"))
        }
        for name, path in files.items():
            target = _yaml_target(name, files)
            if target:
                out[group][name] = PluginInfo(group, name, target, str(path))
    for group, name, target in _entry_points():
        out[group][name] = PluginInfo(group, name, target, f"entry point {ENTRY_POINT_GROUP}")
    return {group: list(infos.values()) for group, infos in out.items()}


def _yaml_target(name: str, files: dict[str, Path], seen: tuple[str, ...] = ()) -> str | None:
    """The ``_target_`` of a plugin YAML, or of the sibling it extends through its
    defaults list (``defaults: [ttfs_processor, _self_]``)."""
    if name in seen or name not in files:
        return None
    node = yaml.safe_load(files[name].read_text()) or {}
    if node.get("_target_"):
        return str(node["_target_"])
    for base in node.get("defaults") or []:
        if isinstance(base, str) and base != "_self_":
            target = _yaml_target(base, files, (*seen, name))
            if target:
                return target
    return None


def compose_plugin(
    group: str,
    name: str,
    overrides: list[str] | None = None,
    config_dirs: list[Path] | None = None,
) -> Any:
    """The plugin ``<group>=<name>``, composed by Hydra and validated as ``dse`` does it
    (the arguments as for :func:`plugin_config`)."""
    return build_plugin(group, plugin_config(group, name, overrides, config_dirs))


def plugin_config(
    group: str,
    name: str,
    overrides: list[str] | None = None,
    config_dirs: list[Path] | None = None,
) -> DictConfig:
    """The config node of ``<group>=<name>`` as ``dse`` composes it.

    ``name`` may be a built-in, a YAML file in one of ``config_dirs`` (``--config-dir``) or
    an entry-point plugin. ``overrides`` are Hydra overrides of the whole config, e.g.
    ``hardware.num_pes=64`` or ``hardware/technology=45nm``.
    """
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    known = [info.name for info in available_plugins(config_dirs)[group]]
    if name not in known:
        raise PluginError(f"{group}={name}: no such plugin (choose from {', '.join(known)})")
    register_schemas()
    register_entry_point_plugins()
    searchpath = ",".join(f"file://{Path(d).resolve()}" for d in config_dirs or [])
    hydra_overrides = [f"{group}={name}", *(overrides or [])]
    if searchpath:
        hydra_overrides.append(f"hydra.searchpath=[{searchpath}]")
    try:
        with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
            cfg = compose("config", overrides=hydra_overrides)
    except (HydraException, OmegaConfBaseException) as err:
        raise ConfigError(_compose_error(str(err))) from None
    return cfg[group]


def _compose_error(message: str) -> str:
    """Hydra's composition error in one line; a missing option names the choices."""
    missing = re.search(r"Could not find '([\w/]+)/([^'/]+)'", message)
    options = re.search(r"Available options in '[^']+':\n((?:\t.*\n?)+)", message)
    if missing and options:
        choices = [line.strip() for line in options.group(1).splitlines() if line.strip()]
        key = missing.group(1).replace("/", ".")
        return f"{key} must be one of {choices} (got {missing.group(2)!r})"
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    return " ".join(lines[:2])


def format_plugin_list(plugins: dict[str, list[PluginInfo]]) -> str:
    lines = []
    for group, infos in plugins.items():
        lines.append(f"{group}:")
        width = max((len(i.name) for i in infos), default=0)
        for info in infos:
            lines.append(f"  {info.name:<{width}}  {info.description()}")
    return "\n".join(lines)
