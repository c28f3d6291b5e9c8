"""One sweep job's outcome, as the sweepers hand it to the front's writer
(:class:`dse.tracking.SweepRecorder`): unpacked once from Hydra's ``JobReturn`` by
``hydra_plugins/dse_sweep/lifecycle.py`` (``job_result``), read by everyone after."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dse.front.fidelity import LOW
from dse.front.search import is_feasible


@dataclass(frozen=True)
class JobResult:
    """A finished job (``error`` None: ``metrics`` holds every objective, finite) or a
    failed one (``error``: why, on one line).

    ``raised``: the job itself raised (``exception``; a grid counts these as its failures, a
    finished job whose metrics cannot be used is an error too, for a search). ``violations``: one per
    constraint (<= 0: satisfied), None when a constraint's metric is missing: computed once
    per job (:func:`dse.front.search.violations`). ``params``: the job's MLflow params, for
    the front's table (finished jobs only). ``prescreened``: why the design point was
    refused before training (dse.point.prescreen; ``prescreen_violations``: bound ->
    margin), ``fidelity``: ``low`` for a first, shortened training (dse.front.fidelity):
    both finished, neither a point of the front.
    """

    error: str | None
    metrics: Mapping[str, float] = field(default_factory=dict)
    run_id: str | None = None
    run_name: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)
    violations: tuple[float, ...] | None = ()
    raised: bool = False
    prescreened: str | None = None
    prescreen_violations: Mapping[str, float] = field(default_factory=dict)
    fidelity: str | None = None
    exception: BaseException | None = field(default=None, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def on_front(self) -> bool:
        """A full-fidelity point that trained: one the front may hold."""
        return self.ok and self.prescreened is None and self.fidelity != LOW

    @property
    def feasible(self) -> bool:
        return self.ok and is_feasible(self.violations)

    def values(self, objectives: Sequence[Any]) -> list[float]:
        """The objectives' values, in their order (a finished job only)."""
        return [float(self.metrics[o.metric]) for o in objectives]


__all__ = ["JobResult"]
