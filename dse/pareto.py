"""Pareto fronts of a sweep: dominance, hypervolume, and their record on the sweep's MLflow run.

The pure functions (:func:`pareto_mask`, :func:`hypervolume`, :func:`default_reference`) work
on an ``(n, m)`` array of objective values with one direction per column. Internally every
column is turned into a minimisation (maximised columns are negated), so "a dominates b"
means ``a <= b`` everywhere and ``a < b`` somewhere.

:class:`SweepFront` holds a sweep's child runs (of its parent run in MLflow) in memory, tags
each with its Pareto membership and logs the front (plot, table, hypervolume history) on the
parent; :func:`record_sweep_front` is its one-shot form. mlflow and matplotlib are imported
inside the functions that need them so the module stays cheap to import.
"""

from __future__ import annotations

import json
import math
import operator
import re
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from dse.errors import ConfigError, require

if TYPE_CHECKING:
    import mlflow
    from mlflow.entities import Run

Direction = Literal["maximize", "minimize"]
DIRECTIONS = ("maximize", "minimize")

# Tags and names shared with the sweeper and the tracking callback.
TAG_PARETO = "dse.pareto_optimal"
TAG_FEASIBLE = "dse.feasible"
TAG_TRIAL = "optuna_trial"  # set through ``+tracking.tags.optuna_trial=N`` by the sweeper
REFERENCE_PARAM = "hypervolume_reference."
# The sweep's reference is fixed from its first trials, so it is pushed out by a whole range
# (or |worst|): later, worse-than-first trials can still count. E.g. a first point at 90 %,
# 40 uJ gives the reference (0 %, 80 uJ).
REFERENCE_MARGIN = 1.0

# Axis labels with units for the metrics a design point returns (dse.cli's result keys).
_LABELS = {
    "snn_accuracy": "SNN accuracy (%)",
    "ann_accuracy": "ANN accuracy (%)",
    "conversion_loss": "conversion loss (percentage points)",
    "energy_uj": "energy per inference (uJ)",
    "latency_ms": "latency per inference (ms)",
    "area_mm2": "area (mm²)",
    "spikes_per_inference": "spikes per inference",
    "synops_per_inference": "synaptic operations per inference",
}


def metric_label(metric: str) -> str:
    """Axis label with units for a metric name (``val_``/``test_`` prefixes are named)."""
    for prefix, split in (("val_", "validation "), ("test_", "test ")):
        if metric.startswith(prefix) and metric[len(prefix) :] in _LABELS:
            return split + _LABELS[metric[len(prefix) :]]
    return _LABELS.get(metric, metric)


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
        return cls(str(node["metric"]), str(node.get("direction", "minimize")))  # type: ignore[arg-type]


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


def _as_minimization(values: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    for d in directions:
        require(d in DIRECTIONS, "directions", "must be 'maximize' or 'minimize'", d)
    values = np.asarray(values, dtype=float)
    require(
        values.size % max(len(directions), 1) == 0
        and (values.ndim <= 1 or values.shape[-1] == len(directions)),
        "values",
        f"must have one column per direction ({len(directions)})",
        values.shape,
    )
    values = values.reshape(-1, len(directions))
    signs = np.array([-1.0 if d == "maximize" else 1.0 for d in directions])
    return values * signs


def pareto_mask(
    values: np.ndarray, directions: Sequence[str], feasible: np.ndarray | None = None
) -> np.ndarray:
    """Boolean mask of the non-dominated rows among the feasible ones.

    ``values`` is ``(n, m)``; rows with a NaN and infeasible rows are never on the front and
    never dominate. Equal rows do not dominate each other, so duplicates are both kept.
    """
    v = _as_minimization(values, directions)
    n = v.shape[0]
    candidate = np.ones(n, dtype=bool) if feasible is None else np.asarray(feasible, dtype=bool)
    if n:
        candidate &= ~np.isnan(v).any(axis=1)
    mask = np.zeros(n, dtype=bool)
    idx = np.flatnonzero(candidate)
    if idx.size == 0:
        return mask
    c = v[idx]
    # dominated[i] is True when some row j <= row i everywhere and < somewhere.
    le = (c[:, None, :] <= c[None, :, :]).all(axis=2)  # le[j, i]: j <= i everywhere
    lt = (c[:, None, :] < c[None, :, :]).any(axis=2)
    dominated = (le & lt).any(axis=0)
    mask[idx[~dominated]] = True
    return mask


def _hv_min(points: np.ndarray, ref: np.ndarray) -> float:
    """Exact hypervolume of minimisation points strictly better than ``ref`` (all dims)."""
    if points.shape[0] == 0:
        return 0.0
    m = points.shape[1]
    if m == 1:
        return float(ref[0] - points[:, 0].min())
    if m == 2:
        order = np.lexsort((points[:, 1], points[:, 0]))  # by f1, then f2
        volume, best_f2 = 0.0, ref[1]
        for x, y in points[order]:
            if y < best_f2:
                volume += (ref[0] - x) * (best_f2 - y)
                best_f2 = y
        return float(volume)
    # Slicing along the last objective (HSO): between consecutive last-coordinate values
    # the dominated region's cross-section is the (m-1)-d hypervolume of the points below.
    points = points[pareto_mask(points, ["minimize"] * m)]
    order = np.argsort(points[:, -1], kind="stable")
    points = points[order]
    volume = 0.0
    for i in range(points.shape[0]):
        upper = points[i + 1, -1] if i + 1 < points.shape[0] else ref[-1]
        height = upper - points[i, -1]
        if height > 0:
            volume += height * _hv_min(points[: i + 1, :-1], ref[:-1])
    return float(volume)


def hypervolume(points: np.ndarray, directions: Sequence[str], reference: Sequence[float]) -> float:
    """Exact volume of objective space dominated by ``points`` and bounded by ``reference``.

    Points that are not strictly better than the reference in every objective add nothing.
    Two objectives: one sweep, O(n log n). Three or more: slicing along the last objective
    (exact; O(n^(m-1) log n), ample for sweeps of hundreds of trials).
    """
    ref = _as_minimization(np.asarray(reference, dtype=float)[None, :], directions)[0]
    v = _as_minimization(points, directions)
    if v.size == 0:
        return 0.0
    v = v[~np.isnan(v).any(axis=1)]
    v = v[(v < ref).all(axis=1)]
    return _hv_min(v, ref)


def default_reference(
    values: np.ndarray, directions: Sequence[str], margin: float = 0.1
) -> np.ndarray:
    """Reference point: the worst value seen per objective, pushed outward by ``margin``.

    Per column: worst = min for maximised, max for minimised objectives; the push is
    ``margin`` x the column's range, or ``margin`` x |worst| when all values are equal, or
    ``margin`` when that is zero too. Every given point then adds volume, the worst ones a
    thin slab. Returned in the objectives' own units and directions.
    """
    v = _as_minimization(values, directions)
    v = v[~np.isnan(v).any(axis=1)]
    require(v.shape[0] > 0, "values", "need at least one point without NaN", values)
    worst, best = v.max(axis=0), v.min(axis=0)
    span = worst - best
    push = np.where(span > 0, span, np.where(worst != 0, np.abs(worst), 1.0)) * margin
    ref = worst + push
    signs = np.array([-1.0 if d == "maximize" else 1.0 for d in directions])
    return ref * signs


@dataclass
class TrialPoint:
    """One finished design point (a child run) as the front sees it."""

    run_id: str
    name: str  # "trial N" when tagged by the sweeper, else the run name
    trial: int | None  # Optuna trial number from the run's ``optuna_trial`` tag
    params: dict[str, str]
    metrics: dict[str, float]
    feasible: bool
    pareto: bool = False


@dataclass
class FrontSummary:
    """A snapshot of a sweep's front, as :meth:`SweepFront.record` last recorded it."""

    objectives: list[Objective]
    constraints: list[Constraint]
    points: list[TrialPoint]
    varying_params: list[str]
    reference: dict[str, float] | None
    hypervolume: float
    n_children: int  # all child runs, any state
    failed: int  # child runs in state FAILED

    @property
    def front(self) -> list[TrialPoint]:
        first = self.objectives[0]
        sign = -1.0 if first.direction == "maximize" else 1.0
        return sorted(
            (p for p in self.points if p.pareto), key=lambda p: sign * p.metrics[first.metric]
        )

    @property
    def n_finished(self) -> int:
        return len(self.points)

    @property
    def n_feasible(self) -> int:
        return sum(p.feasible for p in self.points)

    def best(self) -> dict[str, TrialPoint]:
        """The best feasible trial per objective."""
        out: dict[str, TrialPoint] = {}
        for o in self.objectives:
            feasible = [p for p in self.points if p.feasible]
            if feasible:
                pick = max if o.direction == "maximize" else min
                out[o.metric] = pick(feasible, key=lambda p, k=o.metric: p.metrics[k])
        return out

    def table(self) -> str:
        """Fixed-width table of the front: trial, varying parameters, objective values."""
        header = ["trial", *self.varying_params, *(o.metric for o in self.objectives)]
        rows = [
            [
                p.name,
                *(p.params.get(k, "") for k in self.varying_params),
                *(f"{p.metrics[o.metric]:.4g}" for o in self.objectives),
            ]
            for p in self.front
        ]
        widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        lines = [
            f"Pareto front: {len(rows)} of {self.n_finished} finished design points "
            f"({self.n_feasible} feasible, {self.failed} failed); "
            f"hypervolume {self.hypervolume:.6g}",
            fmt.format(*header),
            fmt.format(*("-" * w for w in widths)),
        ]
        lines += [fmt.format(*r) for r in rows]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        def point(p: TrialPoint) -> dict[str, Any]:
            return {
                "run_id": p.run_id,
                "trial": p.name,
                "params": {k: p.params.get(k) for k in self.varying_params},
                "metrics": {o.metric: p.metrics[o.metric] for o in self.objectives},
                "feasible": p.feasible,
            }

        return {
            "objectives": [{"metric": o.metric, "direction": o.direction} for o in self.objectives],
            "constraints": [str(c) for c in self.constraints],
            "finished": self.n_finished,
            "feasible": self.n_feasible,
            "failed": self.failed,
            "hypervolume": self.hypervolume,
            "hypervolume_reference": self.reference,
            "best": {k: point(p) for k, p in self.best().items()},
            "front": [point(p) for p in self.front],
        }

    def markdown(self) -> str:
        obj = ", ".join(f"{o.direction} `{o.metric}`" for o in self.objectives)
        lines = [
            "# Pareto front",
            "",
            f"Objectives: {obj}. Constraints: "
            + (", ".join(f"`{c}`" for c in self.constraints) or "none")
            + ".",
            f"Finished design points: {self.n_finished} ({self.n_feasible} feasible); "
            f"failed: {self.failed}. Hypervolume: {self.hypervolume:.6g} "
            f"(reference {self.reference}).",
            "",
            "## Best per objective",
            "",
        ]
        for metric, p in self.best().items():
            lines.append(f"- `{metric}`: {p.metrics[metric]:.6g} ({p.name}, run `{p.run_id}`)")
        header = ["trial", *self.varying_params, *(o.metric for o in self.objectives), "run"]
        lines += ["", "## Front", "", "| " + " | ".join(header) + " |"]
        lines.append("|" + "---|" * len(header))
        for p in self.front:
            cells = [
                p.name,
                *(p.params.get(k, "") for k in self.varying_params),
                *(f"{p.metrics[o.metric]:.6g}" for o in self.objectives),
                f"`{p.run_id}`",
            ]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"


def _child_runs(client: mlflow.MlflowClient, parent: Run) -> list[Run]:
    runs, token = [], None
    while True:
        page = client.search_runs(
            [parent.info.experiment_id],
            filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
            max_results=1000,
            page_token=token,
        )
        runs.extend(page)
        token = page.token
        if not token:
            return runs


# Flattened config keys that never describe the design (bookkeeping of the run itself).
_NOT_DESIGN = ("tracking.", "paths.", "cache.", "search.", "hydra.")


_GROUPS = ("dataset", "model", "training", "quantizer", "coding", "hardware")


def _design_params(differing: Iterable[str]) -> list[str]:
    """Of the params that differ across the children, those the sweep varied (the design)."""
    return sorted(
        k for k in differing if not k.startswith(_NOT_DESIGN) and not k.endswith("._target_")
    )


def _staircase(front: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    """Corner points of the boundary of the region a 2-objective front dominates."""
    v = _as_minimization(front, directions)
    v = v[np.lexsort((v[:, 1], v[:, 0]))]
    path = [v[0]]
    for prev, cur in zip(v[:-1], v[1:], strict=True):
        path += [np.array([cur[0], prev[1]]), cur]
    return _as_minimization(np.array(path), directions)  # negation is its own inverse


def _log_if_wide(ax: Any, values: list[float], axis: str) -> None:
    """Log scale for positive values spanning more than two decades (energy often does)."""
    v = np.asarray(values, dtype=float)
    if v.size and (v > 0).all() and v.max() / v.min() > 100:
        (ax.set_xscale if axis == "x" else ax.set_yscale)("log")


def plot_front(summary: FrontSummary, path_stem: Path) -> list[Path]:
    """Draw all trials, infeasible ones marked, the front highlighted; save PNG and SVG."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    objectives = summary.objectives
    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=120)
    pts = summary.points
    if len(objectives) >= 2:
        x_o, y_o = objectives[0], objectives[1]

        def xy(sel: list[TrialPoint]) -> tuple[list[float], list[float]]:
            return [p.metrics[x_o.metric] for p in sel], [p.metrics[y_o.metric] for p in sel]

        feas = [p for p in pts if p.feasible and not p.pareto]
        infeas = [p for p in pts if not p.feasible]
        front = summary.front
        ax.scatter(*xy(feas), s=22, c="#9aa5b1", label="feasible design point")
        if infeas:
            ax.scatter(*xy(infeas), s=30, c="#d62728", marker="x", label="violates a constraint")
        if front:
            arr = np.array([[p.metrics[x_o.metric], p.metrics[y_o.metric]] for p in front])
            stairs = _staircase(arr, [x_o.direction, y_o.direction])
            ax.plot(stairs[:, 0], stairs[:, 1], c="#1f77b4", lw=1.4, zorder=2)
            ax.scatter(arr[:, 0], arr[:, 1], s=46, c="#1f77b4", zorder=3, label="Pareto front")
        ax.set_xlabel(metric_label(x_o.metric))
        ax.set_ylabel(metric_label(y_o.metric))
        _log_if_wide(ax, [p.metrics[x_o.metric] for p in pts], "x")
        _log_if_wide(ax, [p.metrics[y_o.metric] for p in pts], "y")
        extra = f"; {x_o.direction} x, {y_o.direction} y"
        if len(objectives) > 2:
            extra += f"; {len(objectives) - 2} more objective(s) not drawn"
        ax.set_title(f"Pareto front: {len(front)} of {len(pts)} design points{extra}", fontsize=10)
    else:
        o = objectives[0]
        ys = [p.metrics[o.metric] for p in pts]
        colors = ["#1f77b4" if p.pareto else "#9aa5b1" if p.feasible else "#d62728" for p in pts]
        ax.scatter(range(len(pts)), ys, c=colors, s=26)
        ax.set_xlabel("finished design point (by trial number)")
        ax.set_ylabel(f"{metric_label(o.metric)}, {o.direction}")
        ax.set_title("Best design point in blue; red violates a constraint", fontsize=10)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    out = [path_stem.with_suffix(".png"), path_stem.with_suffix(".svg")]
    for p in out:
        fig.savefig(p)
    plt.close(fig)
    return out


def _write_csv(summary: FrontSummary, path: Path) -> None:
    import csv

    metric_keys = sorted({k for p in summary.front for k in p.metrics})
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["run_id", "trial", *summary.varying_params, *metric_keys])
        for p in summary.front:
            w.writerow(
                [
                    p.run_id,
                    p.name,
                    *(p.params.get(k, "") for k in summary.varying_params),
                    *(repr(p.metrics[k]) if k in p.metrics else "" for k in metric_keys),
                ]
            )


def _trial_point(run: Run, constraints: Sequence[Constraint]) -> TrialPoint:
    """A FINISHED child run with every objective metric, as the front sees it."""
    m = run.data.metrics
    try:
        feasible = all(c.satisfied(m) for c in constraints)
    except ConfigError:  # a constraint metric is missing: infeasible
        feasible = False
    tag = run.data.tags.get(TAG_TRIAL, "")
    trial = int(tag) if tag.isdigit() else None
    name = f"trial {trial}" if trial is not None else (run.info.run_name or run.info.run_id)
    # The plugin choices (tags dse.<group>) read better than their classes' _target_.
    params = dict(run.data.params)
    params.update({g: run.data.tags[f"dse.{g}"] for g in _GROUPS if f"dse.{g}" in run.data.tags})
    return TrialPoint(run.info.run_id, name, trial, params, dict(m), feasible)


class SweepFront:
    """A sweep's front kept in memory, so recording it after a batch reads only that batch.

    Re-reading every child run after each batch makes a sweep's bookkeeping O(n^2) in MLflow
    round trips. This reads the existing children once (:meth:`load`, which is also how a
    resumed sweep continues), is then told about new children (:meth:`add`,
    :meth:`add_runs`), and remembers what it wrote to MLflow (tags, reference, last
    hypervolume step), so :meth:`record` writes only what changed. The rules are those of
    :func:`record_sweep_front`, its one-shot form. Children it is not told about after
    :meth:`load` (e.g. runs another process adds) are not counted.
    """

    def __init__(
        self,
        client: mlflow.MlflowClient,
        parent: Run,
        objectives: Sequence[Objective],
        constraints: Sequence[Constraint] = (),
        reference: Mapping[str, float] | None = None,
        last_step: int | None = None,
    ) -> None:
        """Use :meth:`load`: ``parent`` and ``last_step`` are what it read from MLflow."""
        self.objectives = list(objectives)
        self.constraints = list(constraints)
        require(len(self.objectives) >= 1, "search.objectives", "must name at least one metric", [])
        self.parent_run_id: str = parent.info.run_id
        self.experiment_id: str = parent.info.experiment_id
        self._client = client
        self._metrics = [o.metric for o in self.objectives]
        self._directions = [o.direction for o in self.objectives]
        self._requested_reference = reference
        # Reference params already on the parent: MLflow params cannot be rewritten.
        self._stored = {
            k[len(REFERENCE_PARAM) :]: float(v)
            for k, v in parent.data.params.items()
            if k.startswith(REFERENCE_PARAM)
        }
        self.reference: dict[str, float] | None = None
        if all(k in self._stored for k in self._metrics):
            self.reference = {k: self._stored[k] for k in self._metrics}
        self._last_step = last_step
        self._children: set[str] = set()
        self._failed = 0
        self._points: list[TrialPoint] = []
        self._front: list[TrialPoint] = []  # as of the last record()
        self._new: list[TrialPoint] = []  # added since
        self._differing: set[str] = set()  # params whose value is not the same in all points
        self._written: dict[str, dict[str, str]] = {}  # run id -> front tags as in MLflow
        self._pending: dict[str, dict[str, str]] = {}  # run id -> tags record() writes

    @classmethod
    def load(
        cls,
        client: mlflow.MlflowClient,
        parent_run_id: str,
        objectives: Sequence[Objective],
        constraints: Sequence[Constraint] = (),
        reference: Mapping[str, float] | None = None,
    ) -> SweepFront:
        """Read the parent run, its hypervolume history and all its children (once)."""
        parent = client.get_run(parent_run_id)
        history = client.get_metric_history(parent_run_id, "hypervolume")
        last_step = max((h.step for h in history), default=None)
        front = cls(client, parent, objectives, constraints, reference, last_step)
        front.add_runs(_child_runs(client, parent))
        return front

    def _values(self, points: Sequence[TrialPoint]) -> np.ndarray:
        """``(n, m)`` objective values of ``points``, ``(0, m)`` for none."""
        rows = [[p.metrics[k] for k in self._metrics] for p in points]
        return np.array(rows, dtype=float).reshape(len(points), len(self._metrics))

    def add(self, run_ids: Iterable[str], tags: Mapping[str, str] | None = None) -> None:
        """Count new child runs by id: one read each, so a batch costs O(batch) reads.

        ``tags`` are written on these runs by the next :meth:`record`, in the same round trip
        as the front's own tags (known runs get them too).
        """
        for run_id in run_ids:
            if tags:
                self._pending.setdefault(run_id, {}).update(tags)
            if run_id not in self._children:
                self.add_runs([self._client.get_run(run_id)])

    def add_runs(self, runs: Iterable[Run], tags: Mapping[str, str] | None = None) -> None:
        """Count child runs already read (e.g. a search's results); known ones are skipped.

        FAILED runs count as failed; FINISHED runs with every objective metric are points;
        runs of another parent are ignored. ``tags`` as in :meth:`add`.
        """
        for run in runs:
            run_id = run.info.run_id
            if tags:
                self._pending.setdefault(run_id, {}).update(tags)
            if (
                run_id in self._children
                or run.data.tags.get("mlflow.parentRunId") != self.parent_run_id
            ):
                continue
            self._children.add(run_id)
            if run.info.status == "FAILED":
                self._failed += 1
            m = run.data.metrics
            if run.info.status != "FINISHED" or any(k not in m for k in self._metrics):
                continue
            point = _trial_point(run, self.constraints)
            # Comparing with any one point suffices: until a key differs, all points agree on it.
            first = self._points[0].params if self._points else point.params
            self._differing.update(
                k for k in first.keys() | point.params.keys() if first.get(k) != point.params.get(k)
            )
            self._points.append(point)
            self._new.append(point)
            held = run.data.tags  # the front tags MLflow has: record() rewrites only changes
            self._written[run_id] = {k: held[k] for k in (TAG_FEASIBLE, TAG_PARETO) if k in held}

    def record(self, artifacts: bool = True) -> FrontSummary:
        """Update the front in memory and write what changed (see :func:`record_sweep_front`)."""
        from mlflow.entities import Metric, Param, RunTag

        client, parent = self._client, self.parent_run_id
        # Points are only added, so a dominated point stays dominated: the front of all points
        # is that of the last front plus the new points (O(batch x front), not O(n^2)).
        candidates = [*self._front, *self._new]
        values = self._values(candidates)
        feasible = np.array([p.feasible for p in candidates], dtype=bool)
        mask = pareto_mask(values, self._directions, feasible)
        self._front = [p for p, on in zip(candidates, mask, strict=True) if on]
        self._new = []

        # Tags: only what changed, one write per run (each is a round trip to the store); the
        # flags of points outside the candidates cannot change.
        writes, self._pending = self._pending, {}
        for p, on in zip(candidates, mask, strict=True):
            written = self._written[p.run_id]
            for key, val in ((TAG_FEASIBLE, p.feasible), (TAG_PARETO, on)):
                text = "true" if val else "false"
                if written.get(key) != text:
                    writes.setdefault(p.run_id, {})[key] = written[key] = text
        for run_id, tags in writes.items():
            client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])

        if self.reference is None and self._points:
            if self._requested_reference is not None:
                ref = {k: float(self._requested_reference[k]) for k in self._metrics}
            else:
                every = self._values(self._points)  # once: when the reference is fixed
                wide = default_reference(every, self._directions, margin=REFERENCE_MARGIN)
                ref = dict(zip(self._metrics, wide.tolist(), strict=True))
            missing = [
                Param(REFERENCE_PARAM + k, repr(v)) for k, v in ref.items() if k not in self._stored
            ]
            client.log_batch(parent, params=missing)
            self._stored = {**ref, **self._stored}  # a stored value wins: it is what MLflow keeps
            self.reference = {k: self._stored[k] for k in self._metrics}
        hv = 0.0
        if self.reference is not None and mask.any():
            hv = hypervolume(
                values[mask], self._directions, [self.reference[k] for k in self._metrics]
            )

        self._points.sort(key=lambda p: (p.trial is None, p.trial or 0, p.name))
        on_front = {p.run_id for p in self._front}
        summary = FrontSummary(
            objectives=self.objectives,
            constraints=self.constraints,
            points=[replace(p, pareto=p.run_id in on_front) for p in self._points],
            varying_params=_design_params(self._differing),
            reference=None if self.reference is None else dict(self.reference),
            hypervolume=hv,
            n_children=len(self._children),
            failed=self._failed,
        )

        step = len(self._points)
        if self._last_step is None or self._last_step < step:
            now = int(time.time() * 1000)
            client.log_batch(
                parent,
                metrics=[
                    Metric("hypervolume", hv, now, step),
                    Metric("pareto_size", float(len(self._front)), now, step),
                ],
            )
            self._last_step = step
        if artifacts:  # the plots are most of the cost: a sweeper's intermediate batches skip them
            _log_front_artifacts(client, parent, summary)
        return summary


def _log_front_artifacts(
    client: mlflow.MlflowClient, parent_run_id: str, summary: FrontSummary
) -> None:
    with tempfile.TemporaryDirectory(prefix="dse-pareto-") as tmp:
        d = Path(tmp)
        files = []
        if summary.points:
            files += plot_front(summary, d / "pareto_front")
        _write_csv(summary, d / "pareto_front.csv")
        (d / "pareto_summary.json").write_text(json.dumps(summary.to_dict(), indent=2))
        (d / "pareto_summary.md").write_text(summary.markdown())
        files += [d / "pareto_front.csv", d / "pareto_summary.json", d / "pareto_summary.md"]
        for f in files:
            client.log_artifact(parent_run_id, str(f))


def record_sweep_front(
    client: mlflow.MlflowClient,
    parent_run_id: str,
    objectives: Sequence[Objective],
    constraints: Sequence[Constraint] = (),
    reference: Mapping[str, float] | None = None,
    artifacts: bool = True,
) -> FrontSummary:
    """Compute the front of a sweep's child runs and record it in MLflow.

    Children are the runs tagged ``mlflow.parentRunId = parent_run_id``; those FINISHED
    with every objective metric count. A child is feasible when it satisfies every
    constraint (a missing constraint metric makes it infeasible). Each counted child gets
    tags ``dse.feasible`` and ``dse.pareto_optimal`` ("true"/"false", rewritten only when
    they change; infeasible children are never "true").

    On the parent: metric ``pareto_size`` and metric ``hypervolume`` at step = number of
    counted children, and, unless ``artifacts`` is False (the plots are most of the
    cost), ``pareto_front.png/.svg/.csv`` and ``pareto_summary.json/.md``.

    Hypervolume reference rule: the first call that sees a counted child fixes the
    reference point, either ``reference`` (metric -> value) or :func:`default_reference`
    with ``margin=1.0`` of the children counted then (worst value pushed out by the whole
    observed range, or by |worst| when only one value was seen), and stores it as parent params
    ``hypervolume_reference.<metric>``. Later calls read it back from those params
    (``reference`` is then ignored), so every value of the history uses the same point;
    as children are only ever added, the logged hypervolume never decreases. Points worse
    than the reference in some objective add nothing.

    This reads every child run: once per sweep is fine, after every batch it is not (keep a
    :class:`SweepFront` instead).
    """
    front = SweepFront.load(client, parent_run_id, objectives, constraints, reference)
    return front.record(artifacts)


__all__ = [
    "Constraint",
    "FrontSummary",
    "Objective",
    "SweepFront",
    "TrialPoint",
    "default_reference",
    "hypervolume",
    "metric_label",
    "pareto_mask",
    "plot_front",
    "record_sweep_front",
]
