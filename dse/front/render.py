"""A sweep's front as people read it: the summary of its points (:class:`FrontSummary`),
a fixed-width table, Markdown, CSV and the plots (PNG + SVG: MLflow's UI shows images
inline, not HTML). matplotlib is imported inside the plotting functions only."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dse.api.interfaces import PLUGIN_GROUPS
from dse.front.pareto import as_minimization, robust_mask
from dse.front.search import Constraint, Objective

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


# Short forms of the keys people sweep most, for run names and plot labels: "T2 3b 74PE".
_SHORT = {
    "coding.time_window": "T{}",
    "quantizer.bits": "{}b",
    "hardware.num_pes": "{}PE",
    "coding.accumulator_bits": "acc{}",
    "coding.frac_bits": "frac{}",
    "training.epochs": "{}ep",
}


def _short_value(value: Any, digits: int = 3) -> str:
    """A float to ``digits`` significant digits (0.3745 -> 0.375); anything else as written."""
    text = str(value)
    if "." in text or "e" in text.lower():
        try:
            return f"{float(text):.{digits}g}"
        except ValueError:
            pass
    return text


def short_setting(key: str, value: Any) -> str:
    """One setting, short: ``coding.time_window=2`` -> ``T2``, ``coding=rate`` -> ``rate``,
    ``training.lr=0.001`` -> ``lr=0.001``."""
    text = _short_value(value)
    if key in _SHORT:
        return _SHORT[key].format(text)
    if key in PLUGIN_GROUPS:  # a plugin choice (coding=rate): its name says it
        return text
    return f"{key.rsplit('.', 1)[-1]}={text}"


def short_settings(params: Mapping[str, Any], keys: Sequence[str]) -> str:
    """The settings ``keys`` of ``params``, short, the usual keys first: ``T2 3b 74PE``."""
    ordered = [k for k in _SHORT if k in keys] + [k for k in keys if k not in _SHORT]
    return " ".join(short_setting(k, params[k]) for k in ordered if params.get(k) not in (None, ""))


def round_sig(value: float, digits: int = 4) -> str:
    """``value`` to ``digits`` significant digits, without an exponent (0.0001234, 252500)."""
    if not np.isfinite(value):
        return str(value)
    return np.format_float_positional(
        value, precision=digits, unique=False, fractional=False, trim="-"
    )


def hypervolume_reference_text(reference: Mapping[str, float]) -> str:
    """A hypervolume's reference point in one line: ``snn_accuracy 0, energy_uj 0.6503``."""
    return ", ".join(f"{k} {round_sig(v)}" for k, v in reference.items())


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


def _same(a: str | None, b: str) -> bool:
    if a is None:
        return False
    try:
        return float(a) == float(b)
    except ValueError:
        return a == b


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
    experiment_id: str | None = None  # for links to the child runs
    # (name, settings) of a design to mark on the plot (search.reference), e.g. the paper's
    reference_design: tuple[str, dict[str, str]] | None = None

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

    def bands(self, p: TrialPoint) -> list[tuple[float, float]]:
        """(low, high) of each objective of ``p``: ``<metric>_low`` / ``_high`` when the
        design point recorded a band (energy does), else the value itself."""
        out = []
        for o in self.objectives:
            v = p.metrics[o.metric]
            out.append((p.metrics.get(f"{o.metric}_low", v), p.metrics.get(f"{o.metric}_high", v)))
        return out

    def robust(self) -> dict[str, bool]:
        """run id -> whether the front point keeps its place inside every band
        (:func:`dse.front.pareto.robust_mask`); front points only."""
        pts = self.points
        if not pts:
            return {}
        values = np.array([[p.metrics[o.metric] for o in self.objectives] for p in pts], float)
        bands = np.array([self.bands(p) for p in pts], float)  # (n, m, 2)
        feasible = np.array([p.feasible for p in pts])
        directions = [o.direction for o in self.objectives]
        mask = robust_mask(values, bands[:, :, 0], bands[:, :, 1], directions, feasible)
        return {p.run_id: bool(r) for p, r in zip(pts, mask, strict=True) if p.pareto}

    def label(self, p: TrialPoint) -> str:
        """The point's varying settings, short (``T2 3b 74PE``), or its name when none vary."""
        return short_settings(p.params, self.varying_params) or p.name

    def is_reference(self, p: TrialPoint) -> bool:
        """Whether ``p`` has every setting of the reference design (numbers compared as such)."""
        if self.reference_design is None:
            return False
        return all(_same(p.params.get(k), v) for k, v in self.reference_design[1].items())

    def best(self) -> dict[str, TrialPoint]:
        """The best feasible trial per objective; of tied trials, one on the front (a tie
        off the front is dominated by it: worse in another objective)."""
        out: dict[str, TrialPoint] = {}
        feasible = [p for p in self.points if p.feasible]
        for o in self.objectives:
            if feasible:
                sign = 1.0 if o.direction == "maximize" else -1.0
                out[o.metric] = max(
                    feasible, key=lambda p, k=o.metric, s=sign: (s * p.metrics[k], p.pareto)
                )
        return out

    def table(self) -> str:
        """Fixed-width table of the front: trial, varying parameters, objective values."""
        robust = self.robust()
        header = ["trial", *self.varying_params, *(o.metric for o in self.objectives), "robust"]
        rows = [
            [
                p.name,
                *(_short_value(p.params.get(k, ""), 4) for k in self.varying_params),
                *(self._value_text(p, i) for i in range(len(self.objectives))),
                "yes" if robust.get(p.run_id, True) else "no",
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
        if not all(robust.values()):
            lines.append(
                "robust no: another design point beats it somewhere inside the two energy "
                "bands (the model's stated constant spreads)"
            )
        return "\n".join(lines)

    def _value_text(self, p: TrialPoint, i: int) -> str:
        """An objective's value, with its band when it has one: ``0.61 [0.55-1.2]``."""
        v = p.metrics[self.objectives[i].metric]
        low, high = self.bands(p)[i]
        return f"{v:.4g}" if low == high else f"{v:.4g} [{low:.3g}-{high:.3g}]"

    def to_dict(self) -> dict[str, Any]:
        def point(p: TrialPoint) -> dict[str, Any]:
            return {
                "run_id": p.run_id,
                "trial": p.name,
                "params": {k: p.params.get(k) for k in self.varying_params},
                "metrics": {o.metric: p.metrics[o.metric] for o in self.objectives},
                "bands": {
                    o.metric: list(b) for o, b in zip(self.objectives, self.bands(p), strict=True)
                },
                "feasible": p.feasible,
                "robust": robust.get(p.run_id),
            }

        robust = self.robust()

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

    def run_link(self, p: TrialPoint, base: str | None, text: str | None = None) -> str:
        """A Markdown link to ``p``'s run in MLflow's UI when ``base`` is given (``"#"``:
        relative to wherever the UI is served; ``http://host:5000/#``: absolute), showing
        ``text`` (default: the run id); plain text otherwise."""
        shown = text if text is not None else f"`{p.run_id}`"
        if base is None or self.experiment_id is None:
            return shown
        return f"[{shown}]({base}/experiments/{self.experiment_id}/runs/{p.run_id})"

    def markdown(self, link_base: str | None = None) -> str:
        """The summary as Markdown: objectives, constraints, counts, the hypervolume with its
        reference point, the best per objective and the front's table (run ids linked into
        MLflow's UI when ``link_base`` is given, see :meth:`run_link`)."""
        obj = ", ".join(f"{o.direction} `{o.metric}`" for o in self.objectives)
        ref = hypervolume_reference_text(self.reference) if self.reference else "not fixed yet"
        lines = [
            "# Pareto front",
            "",
            f"Objectives: {obj}. Constraints: "
            + (", ".join(f"`{c}`" for c in self.constraints) or "none")
            + ".",
            f"Finished design points: {self.n_finished} ({self.n_feasible} feasible); "
            f"failed: {self.failed}. Front: {len(self.front)} points. Hypervolume: "
            f"{self.hypervolume:.6g} (reference point: {ref}; compare hypervolumes only "
            "at the same reference).",
        ]
        if self.reference_design is not None:
            name, values = self.reference_design
            marks = [p for p in self.points if self.is_reference(p)]
            where = ", ".join(p.name for p in marks) or "not among the design points"
            lines.append(
                f"Reference design: {name} ("
                + ", ".join(f"{k}={v}" for k, v in values.items())
                + f"): {where}."
            )
        lines += ["", "## Front", ""]
        robust = self.robust()
        header = [
            "trial",
            *self.varying_params,
            *(o.metric for o in self.objectives),
            "robust",
            "run",
        ]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for p in self.front:
            cells = [
                self.run_link(p, link_base, p.name),
                *(_short_value(p.params.get(k, ""), 4) for k in self.varying_params),
                *(self._value_text(p, i) for i in range(len(self.objectives))),
                "yes" if robust.get(p.run_id, True) else "no",
                f"`{p.run_id[:8]}`",
            ]
            lines.append("| " + " | ".join(cells) + " |")
        if not all(robust.values()):
            lines += [
                "",
                "Robust *no*: another design point beats it somewhere inside the two energy "
                "bands (the hardware model's stated constant spreads).",
            ]
        lines += ["", "## Best per objective", ""]
        for metric, p in self.best().items():
            lines.append(
                f"- `{metric}`: {round_sig(p.metrics[metric])} ({p.name}, run "
                f"{self.run_link(p, link_base)})"
            )
        return "\n".join(lines) + "\n"


def _staircase(front: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    """Corner points of the boundary of the region a 2-objective front dominates."""
    v = as_minimization(front, directions)
    v = v[np.lexsort((v[:, 1], v[:, 0]))]
    path = [v[0]]
    for prev, cur in zip(v[:-1], v[1:], strict=True):
        path += [np.array([cur[0], prev[1]]), cur]
    return as_minimization(np.array(path), directions)  # negation is its own inverse


# Fraction of the feasible points' span added on each side of the axes.
AXIS_MARGIN = 0.08


def _wide(values: np.ndarray) -> bool:
    """Positive values spanning more than a decade: drawn on a log axis (energy often is)."""
    return bool(values.size and (values > 0).all() and values.max() / values.min() > 10)


def _limits(values: np.ndarray, log: bool, extra: Sequence[float] = ()) -> tuple[float, float]:
    """Axis limits around ``values`` (and ``extra`` points, e.g. a constraint's bound close by)
    plus :data:`AXIS_MARGIN` on each side, in log space on a log axis."""
    v = np.concatenate([values, np.asarray(extra, dtype=float)])
    if log:
        v = np.log10(v[v > 0])
    lo, hi = float(v.min()), float(v.max())
    pad = (hi - lo) * AXIS_MARGIN or (abs(hi) * 0.05 or 0.05)
    lo, hi = lo - pad, hi + pad
    return (10**lo, 10**hi) if log else (lo, hi)


def _near_bound(bound: float, values: np.ndarray) -> list[float]:
    """A constraint's bound when it lies within half the points' span of them: worth
    showing on the axis; a bound far off would squeeze the points like outliers do."""
    lo, hi = float(values.min()), float(values.max())
    return [bound] if lo - (hi - lo) * 0.5 <= bound <= hi + (hi - lo) * 0.5 else []


def plot_front(summary: FrontSummary, path_stem: Path) -> list[Path]:
    """Draw the front (:func:`draw_front`) and save it as PNG and SVG (text kept as text,
    so the SVG's labels can be searched)."""
    import matplotlib.pyplot as plt

    fig = draw_front(summary)
    out = [path_stem.with_suffix(".png"), path_stem.with_suffix(".svg")]
    with plt.rc_context({"svg.fonttype": "none"}):
        for p in out:
            fig.savefig(p)
    plt.close(fig)
    return out


def draw_front(summary: FrontSummary) -> Any:
    """The trials and the front as a matplotlib Figure (the caller closes it).

    Two objectives: x = the first, y = the second. The axes fit the feasible points (an
    infeasible outlier, e.g. a collapsed 10 % network, would squeeze the front into a corner:
    the ones outside are counted in the legend), energy-like objectives spanning more than a
    decade go on a log axis, each front point is labelled with its varying settings, a
    constraint on a plotted metric is drawn as a dashed line (or named at the edge it lies
    beyond), and the reference design (``search.reference``) is a star.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    objectives = summary.objectives
    fig, ax = plt.subplots(figsize=(7.2, 5.2), dpi=110)
    pts = summary.points
    if len(objectives) >= 2:
        _plot_two(ax, summary, objectives[0], objectives[1])
    else:
        o = objectives[0]
        ys = [p.metrics[o.metric] for p in pts]
        colors = ["#1f77b4" if p.pareto else "#9aa5b1" if p.feasible else "#d62728" for p in pts]
        ax.scatter(range(len(pts)), ys, c=colors, s=26)
        ax.set_xlabel("finished design point (by trial number)")
        ax.set_ylabel(f"{metric_label(o.metric)}, {o.direction}")
        ax.set_title("Best design point in blue; red violates a constraint", fontsize=10)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig


def _plot_two(ax: Any, summary: FrontSummary, x_o: Objective, y_o: Objective) -> None:
    pts = summary.points

    def xy(sel: Sequence[TrialPoint]) -> np.ndarray:
        rows = [[p.metrics[x_o.metric], p.metrics[y_o.metric]] for p in sel]
        return np.array(rows, dtype=float).reshape(len(sel), 2)

    front = summary.front
    feasible = [p for p in pts if p.feasible]
    fitted = xy(feasible) if feasible else xy(pts)  # nothing feasible: fit them all
    log_x, log_y = _wide(fitted[:, 0]), _wide(fitted[:, 1])
    bounds = {c.metric: c for c in summary.constraints}
    extra_x = _near_bound(bounds[x_o.metric].bound, fitted[:, 0]) if x_o.metric in bounds else []
    extra_y = _near_bound(bounds[y_o.metric].bound, fitted[:, 1]) if y_o.metric in bounds else []
    xlim, ylim = _limits(fitted[:, 0], log_x, extra_x), _limits(fitted[:, 1], log_y, extra_y)
    if log_x:
        ax.set_xscale("log")
    if log_y:
        ax.set_yscale("log")

    def inside(v: np.ndarray) -> np.ndarray:
        return (
            (v[:, 0] >= xlim[0])
            & (v[:, 0] <= xlim[1])
            & (v[:, 1] >= ylim[0])
            & (v[:, 1] <= ylim[1])
        )

    dominated = xy([p for p in feasible if not p.pareto])
    ax.scatter(dominated[:, 0], dominated[:, 1], s=22, c="#9aa5b1", label="feasible design point")
    infeasible = xy([p for p in pts if not p.feasible])
    if len(infeasible):
        shown = inside(infeasible)
        off = int((~shown).sum())
        text = ", ".join(str(c) for c in summary.constraints) or "a constraint"
        label = f"violates {text} ({len(infeasible)}" + (f", {off} off the axes)" if off else ")")
        ax.scatter(
            infeasible[shown, 0], infeasible[shown, 1], s=30, c="#d62728", marker="x", label=label
        )
    _draw_bands(ax, summary, feasible, x_o.metric, y_o.metric)
    if front:
        arr = xy(front)
        stairs = _staircase(arr, [x_o.direction, y_o.direction])
        ax.plot(stairs[:, 0], stairs[:, 1], c="#1f77b4", lw=1.4, zorder=2)
        robust = summary.robust()
        ok = np.array([robust.get(p.run_id, True) for p in front])
        ax.scatter(arr[ok, 0], arr[ok, 1], s=46, c="#1f77b4", zorder=3, label="Pareto front")
        if (~ok).any():
            ax.scatter(
                arr[~ok, 0], arr[~ok, 1], s=46, facecolors="white", edgecolors="#1f77b4",
                linewidths=1.4, zorder=3, label="on the front, not robust inside the bands",
            )  # fmt: skip
        for i, (p, (x, y)) in enumerate(zip(front, arr, strict=True)):
            ax.annotate(
                summary.label(p),
                (x, y),
                xytext=(6, 5) if i % 2 == 0 else (6, -12),  # alternate: neighbours overlap less
                textcoords="offset points",
                fontsize=7.5,
                color="#0b3d66",
                zorder=4,
            )
    refs = [p for p in pts if summary.is_reference(p)]
    if refs and summary.reference_design is not None:
        arr = xy(refs)
        ax.scatter(
            arr[:, 0], arr[:, 1], s=170, marker="*", facecolors="none", edgecolors="#ff7f0e",
            linewidths=1.6, zorder=5, label=summary.reference_design[0],
        )  # fmt: skip
    for metric, axis, lim in ((x_o.metric, "x", xlim), (y_o.metric, "y", ylim)):
        if metric in bounds:
            _draw_bound(ax, bounds[metric], axis, lim)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_xlabel(metric_label(x_o.metric) + (", log scale" if log_x else ""))
    ax.set_ylabel(metric_label(y_o.metric) + (", log scale" if log_y else ""))
    extra = f"; {x_o.direction} x, {y_o.direction} y"
    if len(summary.objectives) > 2:
        extra += f"; {len(summary.objectives) - 2} more objective(s) not drawn"
    ax.set_title(
        f"Pareto front: {len(front)} of {len(pts)} design points "
        f"({summary.n_feasible} feasible){extra}",
        fontsize=10,
    )


def _draw_bands(
    ax: Any, summary: FrontSummary, pts: Sequence[TrialPoint], x_metric: str, y_metric: str
) -> None:
    """Error bars from each point's recorded band (``<metric>_low`` / ``_high``)."""
    labelled = False
    for metric, axis in ((x_metric, "x"), (y_metric, "y")):
        rows = [p for p in pts if f"{metric}_low" in p.metrics and f"{metric}_high" in p.metrics]
        if not rows:
            continue
        x = np.array([p.metrics[x_metric] for p in rows], float)
        y = np.array([p.metrics[y_metric] for p in rows], float)
        v = x if axis == "x" else y
        lo = np.clip(v - np.array([p.metrics[f"{metric}_low"] for p in rows], float), 0, None)
        hi = np.clip(np.array([p.metrics[f"{metric}_high"] for p in rows], float) - v, 0, None)
        err = {f"{axis}err": np.vstack([lo, hi])}
        ax.errorbar(
            x, y, fmt="none", ecolor="#7f8c99", elinewidth=0.8, capsize=2, alpha=0.7, zorder=1,
            label=None if labelled else "band (the model's stated constant spreads)", **err,
        )  # fmt: skip
        labelled = True


def _draw_bound(ax: Any, c: Constraint, axis: str, lim: tuple[float, float]) -> None:
    """A constraint's bound: a dashed line, or, beyond the axes, its text at that edge."""
    style = {"color": "#d62728", "ls": "--", "lw": 1.0, "alpha": 0.8}
    if lim[0] <= c.bound <= lim[1]:
        if axis == "x":
            ax.axvline(c.bound, **style, label=f"constraint {c}")
        else:
            ax.axhline(c.bound, **style, label=f"constraint {c}")
        return
    low = c.bound < lim[0]
    side = ("left of" if low else "right of") if axis == "x" else ("below" if low else "above")
    # beyond the axes: named in the legend (a text on the plot would cover points)
    ax.plot([], [], **style, label=f"constraint {c} ({side} the axes)")


def _write_csv(summary: FrontSummary, path: Path) -> None:
    """The front, one row per point: trial, the swept settings and the objectives first,
    then the other metrics, rounded to 4 significant digits; the run id last."""
    import csv

    first = [o.metric for o in summary.objectives]
    others = sorted({k for p in summary.front for k in p.metrics} - set(first))
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["trial", *summary.varying_params, *first, *others, "run_id"])
        for p in summary.front:
            w.writerow(
                [
                    p.trial if p.trial is not None else p.name,
                    *(_short_value(p.params.get(k, ""), 4) for k in summary.varying_params),
                    *(round_sig(p.metrics[k]) if k in p.metrics else "" for k in (*first, *others)),
                    p.run_id,
                ]
            )


def write_front_files(summary: FrontSummary, folder: Path) -> list[Path]:
    """Plots (when there are points), CSV, JSON and Markdown of ``summary`` in ``folder``."""
    files = []
    if summary.points:
        files += plot_front(summary, folder / "pareto_front")
    _write_csv(summary, folder / "pareto_front.csv")
    (folder / "pareto_summary.json").write_text(json.dumps(summary.to_dict(), indent=2))
    (folder / "pareto_summary.md").write_text(summary.markdown(link_base="#"))
    return files + [
        folder / "pareto_front.csv",
        folder / "pareto_summary.json",
        folder / "pareto_summary.md",
    ]
