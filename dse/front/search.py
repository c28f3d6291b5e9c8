"""The search spec: what a sweep optimises (``search.objectives``) under which bounds
(``search.constraints``), parsed from the ``search`` config group (conf/search/)."""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from dse.api.errors import ConfigError, require

Direction = Literal["maximize", "minimize"]
DIRECTIONS = ("maximize", "minimize")


@dataclass(frozen=True)
class Objective:
    """One metric of the search and whether it is maximised or minimised."""

    metric: str
    direction: Direction

    def __post_init__(self) -> None:
        require(bool(self.metric), "search.objectives[].metric", "must be a metric name", "")
        require(
            self.direction in DIRECTIONS,
            "search.objectives[].direction",
            "must be 'maximize' or 'minimize'",
            self.direction,
        )

    @classmethod
    def from_config(cls, node: Mapping[str, Any]) -> Objective:
        """Build from a ``{metric: ..., direction: ...}`` mapping (one ``search.objectives`` item)."""
        require(
            isinstance(node, Mapping) and "metric" in node,
            "search.objectives[]",
            "must be a mapping {metric: NAME, direction: maximize|minimize}",
            node,
        )
        # the same default as the config schema (dse.registry.schema.ObjectiveConfig)
        return cls(str(node["metric"]), str(node.get("direction", "maximize")))  # type: ignore[arg-type]


_OPS = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt}
_CONSTRAINT_RE = re.compile(r"^\s*([A-Za-z_][\w.\-/]*)\s*(<=|>=|<|>)\s*(\S+)\s*$")


@dataclass(frozen=True)
class Constraint:
    """A bound on one metric, e.g. ``area_mm2 <= 2``; a design point violating it is infeasible."""

    metric: str
    op: Literal["<=", "<", ">=", ">"]
    bound: float

    @classmethod
    def parse(cls, text: str) -> Constraint:
        """Parse ``"<metric> <op> <number>"`` with op one of ``<=, <, >=, >``."""
        match = _CONSTRAINT_RE.match(str(text))
        require(
            match is not None,
            "search.constraints[]",
            "must read '<metric> <op> <number>' with op one of <=, <, >=, >",
            text,
        )
        assert match is not None
        metric, op, raw = match.groups()
        try:
            bound = float(raw)
        except ValueError:
            raise ConfigError(
                f"search.constraints[] bound must be a number (got {raw!r} in {text!r})"
            ) from None
        require(math.isfinite(bound), "search.constraints[]", "bound must be finite", text)
        return cls(metric, op, bound)  # type: ignore[arg-type]

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.bound:g}"

    def satisfied(self, metrics: Mapping[str, float]) -> bool:
        return self.violation(metrics) <= 0.0

    def violation(self, metrics: Mapping[str, float]) -> float:
        """Optuna's convention: <= 0 when satisfied, else how far the metric is past the bound.

        A strict bound met with equality returns the smallest positive float (infeasible).
        Raises ConfigError when the metric is missing, so a misspelt constraint is not
        silently "always violated".
        """
        if self.metric not in metrics:
            raise ConfigError(
                f"search.constraints: metric {self.metric!r} is not among the design point's "
                f"metrics ({', '.join(sorted(metrics))})"
            )
        value = float(metrics[self.metric])
        if math.isnan(value):
            return math.inf
        excess = value - self.bound if self.op in ("<=", "<") else self.bound - value
        if excess == 0.0 and self.op in ("<", ">"):
            return math.ulp(0.0)
        return excess


def objectives_of(config: Any) -> list[Objective]:
    """``search.objectives`` of a task config, as Objective values."""
    return [Objective(o.metric, o.direction) for o in config.search.objectives]


def constraints_of(config: Any) -> list[Constraint]:
    """``search.constraints`` of a task config, as Constraint values."""
    return [Constraint.parse(c) for c in config.search.constraints]


def violations(
    constraints: Sequence[Constraint], metrics: Mapping[str, float]
) -> tuple[float, ...] | None:
    """Each constraint's :meth:`Constraint.violation` for one design point's ``metrics``, or
    None when a constraint's metric is missing (such a point is infeasible). The one rule of
    feasibility: a sweep computes it once per point and hands it on."""
    try:
        return tuple(c.violation(metrics) for c in constraints)
    except ConfigError:
        return None


def is_feasible(found: tuple[float, ...] | None) -> bool:
    """Whether :func:`violations` says every constraint holds."""
    return found is not None and all(v <= 0.0 for v in found)
