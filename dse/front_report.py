"""A sweep's front as people read it: the summary of its points (:class:`FrontSummary`),
a fixed-width table, Markdown, CSV and the plots (PNG + SVG: MLflow's UI shows images
inline, not HTML). matplotlib is imported inside :func:`plot_front` only."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dse.pareto import as_minimization
from dse.search import Constraint, Objective

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


def _staircase(front: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    """Corner points of the boundary of the region a 2-objective front dominates."""
    v = as_minimization(front, directions)
    v = v[np.lexsort((v[:, 1], v[:, 0]))]
    path = [v[0]]
    for prev, cur in zip(v[:-1], v[1:], strict=True):
        path += [np.array([cur[0], prev[1]]), cur]
    return as_minimization(np.array(path), directions)  # negation is its own inverse


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


def write_front_files(summary: FrontSummary, folder: Path) -> list[Path]:
    """Plots (when there are points), CSV, JSON and Markdown of ``summary`` in ``folder``."""
    files = []
    if summary.points:
        files += plot_front(summary, folder / "pareto_front")
    _write_csv(summary, folder / "pareto_front.csv")
    (folder / "pareto_summary.json").write_text(json.dumps(summary.to_dict(), indent=2))
    (folder / "pareto_summary.md").write_text(summary.markdown())
    return files + [
        folder / "pareto_front.csv",
        folder / "pareto_summary.json",
        folder / "pareto_summary.md",
    ]
