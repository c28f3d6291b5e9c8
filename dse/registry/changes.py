"""What a design point's config changes from the named plugin configs it was composed from.

``model=fashion_cnn model.pool_after=[2,4]`` builds a network that is not the one
``conf/model/fashion_cnn.yaml`` names, so the summary and the run name must say so. The
reference is a composition of the same group choices and nothing else (no experiment, no
key overrides): keys an experiment file sets count as changes exactly like keys typed on
the command line. Hydra's list of the task's overrides would miss the former, and would
list a key set to the value its file already holds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from omegaconf import DictConfig, OmegaConf

from dse.api.interfaces import PLUGIN_GROUPS

# A string Hydra's override grammar reads back as the same string without quotes.
_PLAIN = re.compile(r"[A-Za-z_][\w./-]*")
_WORDS = {"true", "false", "null", "none", "inf", "nan"}


def config_changes(
    cfg: DictConfig, choices: Mapping[str, str | None], searchpath: Sequence[str] = ()
) -> dict[str, str | None]:
    """Every plugin key of ``cfg`` that differs from the named configs of ``choices``, as
    Hydra overrides in group order: ``{"model.pool_after": "[2,4]", "model.batch_norm":
    "false", "hardware/technology": "45nm", "~model.hidden": None}`` (None: deleted).

    ``choices``: the group choices as Hydra records them (``hydra.runtime.choices``), nested
    ones too (``hardware/technology``); ``searchpath``: ``hydra.searchpath``. Inside a
    running ``dse`` the reference is composed on its search path (``--config-dir``
    included); elsewhere on the built-in configs plus ``searchpath``.
    """
    picked = {g: str(c) for g, c in choices.items() if c is not None and _group(g) in cfg}
    top = {g: c for g, c in picked.items() if "/" not in g and g in PLUGIN_GROUPS}
    reference, ref_choices = _compose(top, searchpath)
    # A nested choice (hardware/technology=45nm) is one change, not one per key it brings.
    nested = {
        g: c for g, c in picked.items() if "/" in g and _group(g) in top and ref_choices.get(g) != c
    }
    if nested:
        reference, _ = _compose({**top, **nested}, searchpath)
    out: dict[str, str | None] = {}
    for group in PLUGIN_GROUPS:
        if group not in top:
            continue
        out.update({g: c for g, c in nested.items() if _group(g) == group})
        out.update(_differences(group, cfg[group], reference[group]))
    return out


def changed_groups(changes: Mapping[str, Any]) -> set[str]:
    """The plugin groups :func:`config_changes` found a change in."""
    return {_group(key.lstrip("+~")) for key in changes}


def override_text(key: str, value: str | None) -> str:
    """One change as it is written on the command line: ``model.pool_after=[2,4]``."""
    return key if value is None else f"{key}={value}"


def _group(key: str) -> str:
    return re.split(r"[./]", key, maxsplit=1)[0]


def _compose(choices: Mapping[str, str], searchpath: Sequence[str]) -> tuple[DictConfig, dict]:
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from dse.registry.discovery import CONF_DIR

    overrides = [f"{g}={c}" for g, c in choices.items()]
    if searchpath:
        overrides.append(f"hydra.searchpath=[{','.join(_value(str(p)) for p in searchpath)}]")
    if GlobalHydra.instance().is_initialized():  # inside dse: the app's own search path
        cfg = compose("config", overrides=overrides, return_hydra_config=True)
    else:
        with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
            cfg = compose("config", overrides=overrides, return_hydra_config=True)
    return cfg, dict(cfg.hydra.runtime.choices)


def _differences(group: str, node: Any, reference: Any) -> dict[str, str | None]:
    # unresolved: an interpolation is the same change wherever it points
    mine = _flat(OmegaConf.to_container(node, resolve=False), group)
    theirs = _flat(OmegaConf.to_container(reference, resolve=False), group)
    out: dict[str, str | None] = {}
    for key, value in mine.items():
        if key not in theirs:
            out[f"+{key}"] = _value(value)
        elif value != theirs[key]:
            out[key] = _value(value)
    out.update({f"~{key}": None for key in theirs if key not in mine})
    return out


def _flat(node: Any, prefix: str) -> dict[str, Any]:
    """Dotted keys of nested dicts; a list is one value (as Hydra overrides it)."""
    if not isinstance(node, dict) or not node:
        return {prefix: node}
    out: dict[str, Any] = {}
    for key, value in node.items():
        out.update(_flat(value, f"{prefix}.{key}"))
    return out


def _value(value: Any) -> str:
    """``value`` in Hydra's override syntax: true, null, [2,4], {a:1}, 'a b'."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{_value(v)}" for k, v in value.items()) + "}"
    text = str(value)
    if _PLAIN.fullmatch(text) and text.lower() not in _WORDS:
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
