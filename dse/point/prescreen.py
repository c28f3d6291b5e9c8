"""Pre-screening: the search constraints a hardware model decides before any training.

A design's price grows with its activity: every spike costs reads, adds and cycles on
top of what the design pays at rest (weights held, potentials read, clock, leakage). So
the price of the design's *floor* workload (no input and no output spikes) is a lower
bound on what it can cost once trained, and an upper bound (``energy_uj <= 0.5``,
``area_mm2 <= 2``, ``latency_ms < 1``) that the floor already breaks is broken by every
network the design could train: the point is infeasible at the hardware model's cost,
never trained. A model whose floor prices a metric above a busy workload's (not
monotone in activity) is not trusted with that metric: the point trains as usual.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from dse.api.interfaces import HardwareReport
from dse.api.workload import assumed_activity

# Metrics the hardware model alone produces, as a design point names them (plain, val_
# and test_: every split shares the floor), and the report field each one is.
_FLOOR_FIELDS = ("energy_uj", "latency_ms", "area_mm2", "cycles")
PRESCREEN_METRICS = tuple(
    f"{prefix}{name}" for prefix in ("", "val_", "test_") for name in _FLOOR_FIELDS
)
_UPPER = ("<=", "<")
PRESCREEN_TAG = "dse.prescreened"  # on a pre-screened design run: which bound the floor broke
BUSY_SPIKE_RATE = 0.5  # a busy workload, against which the floor's monotonicity is checked


class Bound(Protocol):
    metric: str
    op: str

    def __str__(self) -> str: ...  # "<metric> <op> <bound>"

    def violation(self, metrics: Mapping[str, float]) -> float: ...


@dataclass(frozen=True)
class Rejection:
    """A design the floor already rules out: the broken constraints and their margins."""

    violations: dict[str, float]  # constraint text -> by how much the floor breaks it
    floor: dict[str, float]  # the floor's price, as floor_<metric>

    @property
    def reason(self) -> str:
        return "; ".join(
            f"{text} broken before training (floor {self._floor_of(text)}, by {v:.4g})"
            for text, v in self.violations.items()
        )

    def _floor_of(self, text: str) -> str:
        metric = text.split()[0]
        return f"{self.floor.get('floor_' + _plain(metric), float('nan')):.4g}"


def screened(constraints: Sequence[Bound]) -> list[Bound]:
    """The constraints a floor price can decide: upper bounds on hardware metrics."""
    return [c for c in constraints if c.metric in PRESCREEN_METRICS and c.op in _UPPER]


def prescreen(point: Any, constraints: Sequence[Bound]) -> Rejection | None:
    """Price ``point`` (a :class:`dse.point.pipeline.DesignPoint`) at its floor workload;
    a Rejection when that breaks one of the screenable ``constraints``, else None. Costs a
    dataset load (kept for the stages that follow) and two hardware estimates."""
    bounds = screened(constraints)
    if not bounds:
        return None
    _, arch = point.prepare()
    static = point.static_workload(arch)
    hardware = point.plugins.hardware
    floor = hardware.estimate(assumed_activity(static, 0.0, input_rate=0.0))
    busy = hardware.estimate(_busy(static))
    values = _metrics(floor)
    trusted = {m for m, v in values.items() if v <= _metrics(busy)[m]}
    broken = {}
    for c in bounds:
        metric = _plain(c.metric)
        if metric not in trusted:
            continue
        v = c.violation({c.metric: values[metric]})
        if v > 0:
            broken[str(c)] = v
    if not broken:
        return None
    return Rejection(broken, {f"floor_{m}": v for m, v in values.items()})


def _busy(static: Any) -> Any:
    ttfs = static.coding.startswith("ttfs")
    top = 1.0 if ttfs else float(static.time_window)
    return assumed_activity(static, min(BUSY_SPIKE_RATE, top), input_rate=top)


def _metrics(report: HardwareReport) -> dict[str, float]:
    return {name: float(getattr(report, name)) for name in _FLOOR_FIELDS}


def _plain(metric: str) -> str:
    for prefix in ("val_", "test_"):
        if metric.startswith(prefix):
            return metric[len(prefix) :]
    return metric
