"""hydra-optuna-sweeper's search-space syntax, parsed into Optuna distributions.

=================================  ==============================================
override value                     Optuna distribution
=================================  ==============================================
``choice(a, b, c)`` / ``a,b,c``    ``CategoricalDistribution([a, b, c])``
``range(2, 8)``                    ``IntDistribution(2, 7, step=1)`` (stop excluded)
``range(0.1, 1.0, 0.2)``           ``FloatDistribution(0.1, 0.9, step=0.2)``
``interval(0.1, 1.0)``             ``FloatDistribution(0.1, 1.0)``
``int(interval(1, 64))``           ``IntDistribution(1, 64)`` (both ends included)
``tag(log, <interval or range>)``  the same with ``log=True`` (range: step 1 only)
=================================  ==============================================

An override that is not a sweep (``key=value``) is passed unchanged to every trial.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, Override, RangeSweep

from dse.api.errors import ConfigError

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution

_PLAIN = re.compile(r"^[A-Za-z_][\w\-./]*$")
_RESERVED = {"null", "true", "false", "inf", "nan"}


def _check_tags(key: str, tags: set[str], allowed: set[str]) -> None:
    unknown = set(tags) - allowed
    if unknown:
        raise ConfigError(
            f"hydra.sweeper.params.{key}: tag {sorted(unknown)} is not understood here "
            f"(allowed: {sorted(allowed) or 'none'})"
        )


def _is_int(*values: Any) -> bool:
    return all(isinstance(v, int) and not isinstance(v, bool) for v in values)


def to_distribution(override: Override) -> BaseDistribution:
    """The Optuna distribution of one sweep override (see the module table)."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    key = override.get_key_element()
    value = override.value()
    if isinstance(value, ChoiceSweep):
        _check_tags(key, value.tags, set())
        for c in value.list:
            if not (c is None or isinstance(c, (bool, int, float, str))):
                raise ConfigError(
                    f"hydra.sweeper.params.{key}: choice values must be numbers, strings, "
                    f"booleans or null (got {c!r})"
                )
        if len(set(map(repr, value.list))) != len(value.list):
            raise ConfigError(f"hydra.sweeper.params.{key}: choice has repeated values")
        return CategoricalDistribution(list(value.list))
    if isinstance(value, RangeSweep):
        _check_tags(key, value.tags, {"log"})
        start, stop, step = value.start, value.stop, value.step
        if step is None or step <= 0 or not start < stop:
            raise ConfigError(
                f"hydra.sweeper.params.{key}: range(start, stop, step) needs start < stop and "
                f"step > 0 (got {start}, {stop}, {step})"
            )
        count = math.ceil((stop - start) / step - 1e-9)  # values start + i*step < stop
        last = start + (count - 1) * step
        log = "log" in value.tags
        if _is_int(start, stop, step):
            if log and step != 1:
                raise ConfigError(f"hydra.sweeper.params.{key}: tag(log, range) needs step 1")
            return IntDistribution(int(start), int(last), step=int(step), log=log)
        if log:
            raise ConfigError(
                f"hydra.sweeper.params.{key}: tag(log, range) needs integers; use "
                "tag(log, interval(low, high)) for a continuous log scale"
            )
        return FloatDistribution(float(start), float(last), step=float(step))
    if isinstance(value, IntervalSweep):
        _check_tags(key, value.tags, {"log"})
        low, high = value.start, value.end
        log = "log" in value.tags
        if not low < high or (log and low <= 0):
            raise ConfigError(
                f"hydra.sweeper.params.{key}: interval(low, high) needs low < high"
                + (" and low > 0 with tag(log, ...)" if log else "")
                + f" (got {low}, {high})"
            )
        if _is_int(low, high):
            return IntDistribution(int(low), int(high), log=log)
        return FloatDistribution(float(low), float(high), log=log)
    raise ConfigError(
        f"hydra.sweeper.params.{key}: {override.input_line!r} is not a search space "
        "(use choice(...), range(...), interval(...), int(interval(...)), tag(log, ...))"
    )


def parse_search_space(
    lines: list[str], config_loader: Any = None
) -> tuple[dict[str, BaseDistribution], list[str]]:
    """Split ``key=value`` lines into the search space and the fixed overrides.

    Later lines win over earlier ones with the same key (the sweeper passes its ``params``
    first, then the command line).
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    overrides = OverridesParser.create(config_loader=config_loader).parse_overrides(lines)
    by_key: dict[str, Override] = {}
    for o in overrides:
        by_key.pop(o.get_key_element(), None)  # keep the command line's order for the winner
        by_key[o.get_key_element()] = o
    space: dict[str, BaseDistribution] = {}
    fixed: list[str] = []
    for key, o in by_key.items():
        if o.is_sweep_override():
            space[key] = to_distribution(o)
        else:
            fixed.append(f"{key}={o.get_value_element_as_str()}")
    return space, fixed


def format_value(value: Any) -> str:
    """A parameter value as Hydra override text (strings quoted when they must be)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in _RESERVED:
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
