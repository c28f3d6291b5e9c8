"""Typed configuration: the top-level schema and the checks that run before any work.

Two layers of checking, both before anything expensive starts:

1. The top-level keys (``seed``, ``paths``, ``tracking``, ``search``, ``cache``) have a
   structured-config schema (:class:`DseConfig`, stored in Hydra's ConfigStore as
   ``dse_schema`` and listed first in ``conf/config.yaml``'s defaults): a typo or a wrong
   type fails when Hydra composes the config.
2. Each plugin group (``dataset``, ``model``, ...) is checked against the constructor of
   the class its ``_target_`` names: a schema is derived from the ``__init__`` signature
   (:func:`schema_for`), so an unknown key or a wrong type fails with the group and key
   named, a class that does not implement its interface is refused, and the constructor
   checks ranges. This works for a user's plugin exactly as for a built-in one.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
import json
import typing
from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from dse.api.errors import ConfigError, DseError, PluginError, require
from dse.api.interfaces import PLUGIN_KINDS

# --------------------------------------------------------------------------- top level


@dataclass
class PathsConfig:
    outputs: str = "outputs"


@dataclass
class TrackingConfig:
    uri: str = MISSING
    experiment: str = "snn-dse"
    run_name: str | None = None
    breakdown_chart: bool = True
    log_models: bool = True
    tags: dict[str, Any] = field(default_factory=dict)


@dataclass
class ObjectiveConfig:
    metric: str = MISSING
    direction: str = "maximize"


@dataclass
class ReferenceDesignConfig:
    """A design to mark on the front's plot (e.g. the paper's); an Optuna sweep evaluates it
    as a trial when ``params`` fixes every searched key."""

    name: str = "reference design"
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class SearchConfig:
    objectives: list[ObjectiveConfig] = field(default_factory=list)
    constraints: list[str] = field(default_factory=list)
    reference: ReferenceDesignConfig | None = None
    prescreen: bool = True  # sweeps: decide hardware bounds at the floor price, before training


@dataclass
class CacheConfig:
    enabled: bool = True
    dir: str = MISSING


@dataclass
class DseConfig:
    seed: int = 0
    threads: int = 0  # torch threads per design point; 0: cores / jobs run in parallel
    paths: PathsConfig = field(default_factory=PathsConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    cache: CacheConfig = field(default_factory=CacheConfig)
    # plugin groups: checked against their class's constructor by check_plugin_config
    dataset: Any = MISSING
    model: Any = MISSING
    training: Any = MISSING
    quantizer: Any = MISSING
    coding: Any = MISSING
    hardware: Any = MISSING


def register_schemas() -> None:
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="dse_schema", node=DseConfig)


def check_top_level(cfg: DictConfig) -> None:
    """Range checks the schema cannot express: the search spec parses (dse/front/search.py holds
    its rules, for the sweepers as for this check)."""
    from dse.front.search import constraints_of, objectives_of

    if not cfg.search.objectives:
        raise ConfigError("search.objectives must name at least one metric")
    require(
        cfg.threads >= 0, "threads", "must be >= 0 (0: chosen from the parallel jobs)", cfg.threads
    )
    objectives_of(cfg)
    constraints_of(cfg)


# --------------------------------------------------------------------------- plugins

# Annotations OmegaConf can type-check; anything else is accepted as Any.
_SIMPLE = (int, float, bool, str)


def import_target(target: str, group: str) -> type:
    module_name, _, attr = target.rpartition(".")
    try:
        module = importlib.import_module(module_name)
        cls = getattr(module, attr)
    except (ImportError, AttributeError, ValueError) as err:
        raise PluginError(
            f"{group}._target_ = {target!r} cannot be imported ({err}). Check the module is on "
            "the Python path (PYTHONPATH or an installed package) and the class name is right."
        ) from err
    if not inspect.isclass(cls):
        raise PluginError(f"{group}._target_ = {target!r} is not a class")
    return cls


def check_interface(cls: type, group: str) -> None:
    """Refuse a class that is not a complete implementation of its group's interface."""
    base = PLUGIN_KINDS[group]
    if not issubclass(cls, base):
        raise PluginError(
            f"{group} plugin {cls.__module__}.{cls.__qualname__} does not implement "
            f"dse.interfaces.{base.__name__}: subclass it (see docs/PLUGINS.md)"
        )
    missing = sorted(getattr(cls, "__abstractmethods__", ()))
    if missing:
        raise PluginError(
            f"{group} plugin {cls.__module__}.{cls.__qualname__} does not implement "
            f"{', '.join(missing)} of {base.__name__}"
        )


def _omegaconf_type(annotation: Any) -> Any:
    """Map a constructor annotation to one OmegaConf can validate (or Any)."""
    if annotation in _SIMPLE:
        return annotation
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1 and type(None) in args:
            mapped = _omegaconf_type(inner[0])
            return typing.Optional[mapped] if mapped is not Any else Any  # noqa: UP007, UP045
        return Any
    if dataclasses.is_dataclass(annotation):  # a nested group of keys, typed field by field
        return annotation
    if origin in (list, tuple) and args and args[0] in _SIMPLE:
        return list[args[0]]  # tuple[int, ...] and list[int] both come from a YAML list
    return Any


@functools.cache  # one per class: deriving it costs more than a trial's pricing
def schema_for(cls: type) -> type:
    """A dataclass mirroring ``cls.__init__``'s keyword arguments (types and defaults)."""
    signature = inspect.signature(cls.__init__)
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # unresolvable forward references: fall back to no types
        hints = {}
    fields = [("_target_", str, dataclasses.field(default=f"{cls.__module__}.{cls.__qualname__}"))]
    for name, param in signature.parameters.items():
        if name == "self" or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        typ = _omegaconf_type(hints.get(name, Any))
        if param.default is inspect.Parameter.empty:
            default: Any = dataclasses.field(default=MISSING)
        elif isinstance(param.default, (list, dict, tuple)):
            default = dataclasses.field(
                default_factory=lambda v=param.default: (
                    list(v) if isinstance(v, tuple) else v.copy()
                )
            )
        else:
            default = dataclasses.field(default=param.default)
        fields.append((name, typ, default))
    return dataclasses.make_dataclass(f"{cls.__name__}Config", fields)


# Plugin configs this process found valid, by content: a sweep's trials repeat the same
# configs (only a swept key changes), and validating costs more than pricing a design.
_valid: dict[tuple[str, str], type] = {}


def check_plugin_config(group: str, node: DictConfig) -> type:
    """Validate one plugin group's config against its class; return the class."""
    if node is None or "_target_" not in node:
        raise PluginError(
            f"config group '{group}' has no _target_: every plugin YAML names its class"
        )
    try:
        content = json.dumps(OmegaConf.to_container(node, resolve=True), sort_keys=True)
    except (OmegaConfBaseException, TypeError):  # the full check below explains it
        content = None
    if (group, content) in _valid:
        return _valid[group, content]
    cls = _check_plugin_config(group, node)
    if content is not None:
        _valid[group, content] = cls
    return cls


def _check_plugin_config(group: str, node: DictConfig) -> type:
    cls = import_target(node._target_, group)
    check_interface(cls, group)
    schema = OmegaConf.structured(schema_for(cls))
    OmegaConf.set_struct(schema, True)
    try:
        OmegaConf.merge(schema, node)
    except OmegaConfBaseException as err:
        valid = ", ".join(k for k in schema if k != "_target_")
        key = getattr(err, "full_key", None) or getattr(err, "key", "")
        raise ConfigError(
            f"{group}.{key}: {_first_line(err)} ({cls.__name__} accepts: {valid})"
        ) from None
    return cls


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0]


def build_plugin(group: str, node: DictConfig) -> Any:
    """The plugin of one group's config, validated against its class first; a constructor's
    own :class:`DseError` surfaces as it is, anything else it raises as a ConfigError."""
    cls = check_plugin_config(group, node)
    try:
        return construct(cls, OmegaConf.to_container(node, resolve=True))
    except DseError:
        raise
    except Exception as err:  # hydra wraps constructor errors; surface the cause
        cause = err.__cause__ or err
        if isinstance(cause, DseError):
            raise cause from None
        raise ConfigError(f"{group}: {cause}") from None


def construct(cls: type, config: dict[str, Any]) -> Any:
    """``cls(**keyword arguments)`` of a validated plugin config. Hydra's ``instantiate``
    (ten times slower) only where the config asks for more: a nested ``_target_`` or one
    of Hydra's special keys."""
    special = any(k.startswith("_") and k != "_target_" for k in config)
    if special or any(_nests_target(v) for v in config.values()):
        from hydra.utils import instantiate

        return instantiate(config, _convert_="all")
    return cls(**{k: v for k, v in config.items() if k != "_target_"})


def _nests_target(value: Any) -> bool:
    if isinstance(value, dict):
        return any(k == "_target_" or _nests_target(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_nests_target(v) for v in value)
    return False
