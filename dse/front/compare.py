"""Several sweeps' fronts side by side: which sweep's front dominates where.

A sweep is named by its parent run id or its study name (parent run ``sweep-<name>``);
its front is the children the front's writer tagged ``dse.pareto_optimal = true``
(:mod:`dse.front.store`). :func:`dominance_bands` splits the first objective (accuracy)
into bands and says, per band, which sweep's front reaches that accuracy at the best
second objective (least energy); :func:`write_comparison` draws the fronts on one plot
(error bars from ``<metric>_low`` / ``_high`` where recorded) and writes the CSV and the
table; :func:`record_comparison` makes it an MLflow run of its own, linked to the parents.
mlflow and matplotlib are imported inside the functions that need them.
"""

from __future__ import annotations

import csv
import math
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dse.api.errors import ConfigError
from dse.front.render import TrialPoint, metric_label, round_sig
from dse.front.search import Objective
from dse.front.store import child_runs

if TYPE_CHECKING:
    from mlflow import MlflowClient

DEFAULT_OBJECTIVES = [Objective("snn_accuracy", "maximize"), Objective("energy_uj", "minimize")]
SWEEP_RUN_PREFIX = "sweep-"  # a sweep's parent run is named sweep-<study name>
COMPARISON_KIND = "comparison"  # tag dse.kind of a comparison's run
TAG_COMPARED = "dse.compared"  # the parents' run ids, comma-separated (and .0, .1, ...)
_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2"]


@dataclass
class SweepFrontData:
    """One sweep's front as a comparison sees it."""

    name: str  # the label on the plot and in the table (the study name)
    parent_run_id: str
    experiment_id: str
    objectives: list[Objective]
    points: list[TrialPoint]  # the front, FINISHED children tagged Pareto-optimal


@dataclass(frozen=True)
class Band:
    """A range of the first objective where one sweep's front is best in the second.

    ``low`` (exclusive; None: no lower end) to ``high`` (inclusive), in the first
    objective's units and its better direction; at ``high``, ``best`` is the winner's
    second-objective value and ``runner_up`` / ``runner_up_value`` the next sweep's (None
    when no other front reaches it). ``clear``: in every part of the band the winner's
    band (``<metric>_high``) stays better than the runner-up's (``_low``).
    """

    low: float | None
    high: float
    winners: tuple[str, ...]  # several when tied
    best: float
    runner_up: str | None
    runner_up_value: float | None
    clear: bool


# --------------------------------------------------------------------------- reading MLflow


def _objectives_of(params: dict[str, str]) -> list[Objective]:
    """``sweep.objectives`` of a parent ("maximize snn_accuracy, minimize energy_uj")."""
    text = params.get("sweep.objectives")
    if not text:
        return list(DEFAULT_OBJECTIVES)
    out = []
    for item in text.split(","):
        direction, _, metric = item.strip().partition(" ")
        out.append(Objective(metric.strip(), direction))  # type: ignore[arg-type]
    return out


def find_sweep(client: MlflowClient, ref: str) -> Any:
    """The parent run a sweep reference names: a run id, or a study name (``sweep-<name>``
    also works). Of several sweeps with that name, the latest. ConfigError when none."""
    from mlflow.exceptions import MlflowException

    if _RUN_ID.match(ref):
        try:
            run = client.get_run(ref)
        except MlflowException:
            raise ConfigError(f"sweep {ref!r}: no such run in this tracking store") from None
        if run.data.tags.get("dse.kind") != "sweep":
            raise ConfigError(f"sweep {ref!r}: run {ref} is not a sweep's parent run")
        return run
    name = ref if ref.startswith(SWEEP_RUN_PREFIX) else SWEEP_RUN_PREFIX + ref
    escaped = name.replace("'", "\\'")
    experiments = [e.experiment_id for e in client.search_experiments()]
    found = client.search_runs(
        experiments,
        filter_string=f"tags.`dse.kind` = 'sweep' and attributes.run_name = '{escaped}'",
        order_by=["attributes.start_time DESC"],
        max_results=10,
    )
    if not found:
        raise ConfigError(
            f"sweep {ref!r}: no parent run named {name!r} in this tracking store "
            "(name a study or a parent run id)"
        )
    return found[0]


def load_front(client: MlflowClient, ref: str) -> SweepFrontData:
    """The front a sweep recorded (its children tagged ``dse.pareto_optimal = true``)."""
    parent = find_sweep(client, ref)
    run_id = parent.info.run_id
    runs = child_runs(
        client, run_id, parent.info.experiment_id, where="tags.`dse.pareto_optimal` = 'true'"
    )
    objectives = _objectives_of(dict(parent.data.params))
    points = []
    for r in runs:
        m = dict(r.data.metrics)
        if r.info.status != "FINISHED" or any(o.metric not in m for o in objectives[:2]):
            continue
        tag = r.data.tags.get("optuna_trial", "")
        trial = int(tag) if tag.isdigit() else None
        name = r.info.run_name or (f"trial {trial}" if trial is not None else r.info.run_id)
        points.append(TrialPoint(r.info.run_id, name, trial, {}, m, True, True))
    label = (parent.info.run_name or run_id).removeprefix(SWEEP_RUN_PREFIX)
    return SweepFrontData(label, run_id, parent.info.experiment_id, objectives, points)


def common_objectives(sweeps: Sequence[SweepFrontData]) -> tuple[Objective, Objective]:
    """The first two objectives, the same in every sweep (ConfigError otherwise)."""
    if len(sweeps) < 2:
        raise ConfigError("compare needs at least two sweeps")
    first = sweeps[0].objectives[:2]
    if len(first) < 2:
        raise ConfigError(f"sweep {sweeps[0].name!r} has fewer than two objectives")
    for s in sweeps[1:]:
        if s.objectives[:2] != first:
            raise ConfigError(
                f"sweeps {sweeps[0].name!r} and {s.name!r} optimise different objectives "
                f"({_text(first)} vs {_text(s.objectives[:2])}): their fronts do not compare"
            )
    return first[0], first[1]


def _text(objectives: Sequence[Objective]) -> str:
    return ", ".join(f"{o.direction} {o.metric}" for o in objectives)


def unique_names(sweeps: Sequence[SweepFrontData]) -> None:
    """Sweeps with the same study name get their parent run id's first digits appended."""
    seen: dict[str, int] = {}
    for s in sweeps:
        seen[s.name] = seen.get(s.name, 0) + 1
    for s in sweeps:
        if seen[s.name] > 1:
            s.name = f"{s.name} ({s.parent_run_id[:8]})"


# --------------------------------------------------------------------------- the bands


def dominance_bands(sweeps: Sequence[SweepFrontData], x: Objective, y: Objective) -> list[Band]:
    """Per band of ``x`` (accuracy), the sweep whose front reaches every ``x`` inside it at
    the best ``y`` (energy).

    For a level L of ``x``, a front's cost is its best ``y`` among points at least as good
    as L in ``x``. Costs change only at the fronts' own ``x`` values, so the bands run
    between consecutive values (the first from "no lower end"; above the best value no
    front reaches); neighbouring bands with the same winner are merged, and the values are
    those at the merged band's upper end, its hardest part.
    """
    sx = 1.0 if x.direction == "maximize" else -1.0
    sy = 1.0 if y.direction == "minimize" else -1.0
    pts = {
        s.name: [
            (sx * p.metrics[x.metric], sy * p.metrics[y.metric], p)
            for p in s.points
            if math.isfinite(p.metrics[x.metric]) and math.isfinite(p.metrics[y.metric])
        ]
        for s in sweeps
    }
    levels = sorted({px for rows in pts.values() for px, _, _ in rows})
    raw: list[tuple[float, tuple[str, ...], list[tuple[float, str, TrialPoint]], bool]] = []
    for level in levels:
        costs = []
        for name, rows in pts.items():
            reach = [(py, p) for px, py, p in rows if px >= level]
            if reach:
                py, p = min(reach, key=lambda r: r[0])
                costs.append((py, name, p))
        costs.sort(key=lambda c: c[0])
        winners = tuple(n for c, n, _ in costs if c == costs[0][0])
        others = [c for c in costs if c[1] not in winners]
        clear = not others or _band_end(costs[0][2], y, "worst") < _band_end(
            others[0][2], y, "best"
        )
        raw.append((level, winners, costs, clear))
    bands: list[Band] = []
    low: float | None = None
    clear_all = True
    for i, (level, winners, costs, clear) in enumerate(raw):
        clear_all = clear_all and clear
        if i + 1 < len(raw) and raw[i + 1][1] == winners:
            continue  # the next level has the same winner: one band
        others = [c for c in costs if c[1] not in winners]
        bands.append(
            Band(
                low=None if low is None else sx * low,
                high=sx * level,
                winners=winners,
                best=sy * costs[0][0],
                runner_up=others[0][1] if others else None,
                runner_up_value=sy * others[0][0] if others else None,
                clear=clear_all,
            )
        )
        low, clear_all = level, True
    return bands


def _band_end(p: TrialPoint, y: Objective, end: str) -> float:
    """``p``'s ``y`` at the worst or best end of its recorded band, as a cost (lower
    better; the value itself when no band is recorded)."""
    v = p.metrics[y.metric]
    lo, hi = p.metrics.get(f"{y.metric}_low", v), p.metrics.get(f"{y.metric}_high", v)
    if y.direction == "minimize":
        return hi if end == "worst" else lo
    return -(lo if end == "worst" else hi)


def bands_rows(bands: Sequence[Band], x: Objective, y: Objective) -> list[list[str]]:
    """The table's header and rows (text)."""
    rows = [[x.metric, "best front", y.metric, "runner-up", y.metric, "ratio", "clear of bands"]]
    for b in bands:
        if b.low is None:
            where = f"{'<=' if x.direction == 'maximize' else '>='} {round_sig(b.high)}"
        else:
            lo, hi = sorted((b.low, b.high))
            where = (
                f"({round_sig(lo)}, {round_sig(hi)}]"
                if x.direction == "maximize"
                else (f"[{round_sig(lo)}, {round_sig(hi)})")
            )
        ratio = ""
        if b.runner_up_value is not None and b.best not in (0, 0.0):
            ratio = f"{round_sig(b.runner_up_value / b.best, 3)}x"
        rows.append(
            [
                where,
                " = ".join(b.winners),
                round_sig(b.best),
                b.runner_up or "-",
                "-" if b.runner_up_value is None else round_sig(b.runner_up_value),
                ratio or "-",
                "yes" if b.clear else "no",
            ]
        )
    return rows


def bands_table(bands: Sequence[Band], x: Objective, y: Objective) -> str:
    """The dominance table, fixed width, with a line that says how to read it."""
    rows = bands_rows(bands, x, y)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    better = "at least" if x.direction == "maximize" else "at most"
    lines = [
        f"Which front dominates where: for {x.metric} {better} each level of a band, the "
        f"front with the {'least' if y.direction == 'minimize' else 'most'} {y.metric} "
        "(values at the band's upper end)",
        fmt.format(*rows[0]),
        fmt.format(*("-" * w for w in widths)),
        *(fmt.format(*r) for r in rows[1:]),
    ]
    if any(not b.clear for b in bands):
        lines.append(
            "clear of bands no: the two fronts' energy bands (the models' stated constant "
            "spreads) overlap there"
        )
    return "\n".join(lines)


def bands_markdown(bands: Sequence[Band], x: Objective, y: Objective) -> str:
    rows = bands_rows(bands, x, y)
    out = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    out += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(out)


# --------------------------------------------------------------------------- files


def draw_comparison(sweeps: Sequence[SweepFrontData], x: Objective, y: Objective) -> Any:
    """Every sweep's front on one plot: points, the staircase each front dominates, error
    bars from ``<metric>_low`` / ``_high`` where recorded. A matplotlib Figure."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from dse.front.render import _staircase  # the front's own boundary, drawn the same way

    fig, ax = plt.subplots(figsize=(7.2, 5.2), dpi=110)
    ys = [p.metrics[y.metric] for s in sweeps for p in s.points]
    if ys and min(ys) > 0 and max(ys) / min(ys) > 10:
        ax.set_yscale("log")
    for i, s in enumerate(sweeps):
        color = _COLORS[i % len(_COLORS)]
        if not s.points:
            ax.plot([], [], color=color, label=f"{s.name} (no front recorded)")
            continue
        arr = np.array([[p.metrics[x.metric], p.metrics[y.metric]] for p in s.points], float)
        stairs = _staircase(arr, [x.direction, y.direction])
        ax.plot(stairs[:, 0], stairs[:, 1], color=color, lw=1.3, alpha=0.8)
        lo = np.array([p.metrics.get(f"{y.metric}_low", p.metrics[y.metric]) for p in s.points])
        hi = np.array([p.metrics.get(f"{y.metric}_high", p.metrics[y.metric]) for p in s.points])
        err = np.vstack([np.clip(arr[:, 1] - lo, 0, None), np.clip(hi - arr[:, 1], 0, None)])
        if err.any():
            ax.errorbar(
                arr[:, 0], arr[:, 1], yerr=err, fmt="none", ecolor=color, elinewidth=0.8,
                capsize=2, alpha=0.6, zorder=1,
            )  # fmt: skip
        ax.scatter(
            arr[:, 0], arr[:, 1], s=40, color=color, zorder=3,
            label=f"{s.name} ({len(s.points)} front points)",
        )  # fmt: skip
    ax.set_xlabel(metric_label(x.metric))
    ax.set_ylabel(metric_label(y.metric) + (", log scale" if ax.get_yscale() == "log" else ""))
    ax.set_title(
        f"Fronts of {len(sweeps)} sweeps; {x.direction} x, {y.direction} y"
        + ("; bars: energy band" if any(f"{y.metric}_low" in p.metrics for s in sweeps
                                        for p in s.points) else ""),
        fontsize=10,
    )  # fmt: skip
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def write_comparison(
    sweeps: Sequence[SweepFrontData], folder: Path, x: Objective, y: Objective
) -> list[Path]:
    """``fronts.png`` / ``.svg`` (the plot), ``fronts.csv`` (every front point of every
    sweep), ``dominance.csv`` and ``comparison.md`` (the bands) in ``folder``."""
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    fig = draw_comparison(sweeps, x, y)
    files = [folder / "fronts.png", folder / "fronts.svg"]
    with plt.rc_context({"svg.fonttype": "none"}):
        for f in files:
            fig.savefig(f)
    plt.close(fig)
    metrics = [x.metric, y.metric, f"{y.metric}_low", f"{y.metric}_high"]
    with (folder / "fronts.csv").open("w", newline="") as handle:
        w = csv.writer(handle)
        w.writerow(["sweep", "parent_run_id", "trial", "run_name", *metrics, "run_id"])
        for s in sweeps:
            for p in sorted(s.points, key=lambda p: -p.metrics[x.metric]):
                w.writerow(
                    [
                        s.name,
                        s.parent_run_id,
                        "" if p.trial is None else p.trial,
                        p.name,
                        *(repr(p.metrics[k]) if k in p.metrics else "" for k in metrics),
                        p.run_id,
                    ]
                )
    bands = dominance_bands(sweeps, x, y)
    with (folder / "dominance.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows(bands_rows(bands, x, y))
    (folder / "comparison.md").write_text(comparison_markdown(sweeps, bands, x, y))
    return [*files, folder / "fronts.csv", folder / "dominance.csv", folder / "comparison.md"]


def comparison_markdown(
    sweeps: Sequence[SweepFrontData],
    bands: Sequence[Band],
    x: Objective,
    y: Objective,
) -> str:
    """The comparison run's description: the sweeps linked to their parent runs, the table."""
    lines = ["# Fronts compared", ""]
    for s in sweeps:
        link = f"#/experiments/{s.experiment_id}/runs/{s.parent_run_id}"
        lines.append(f"- [{s.name}]({link}): {len(s.points)} front points (`{s.parent_run_id}`)")
    lines += ["", bands_table(bands, x, y).splitlines()[0] + ".", ""]
    lines.append(bands_markdown(bands, x, y))
    return "\n".join(lines) + "\n"


def record_comparison(
    client: MlflowClient,
    sweeps: Sequence[SweepFrontData],
    experiment_id: str | None = None,
) -> str:
    """The comparison as an MLflow run of its own (in the first sweep's experiment unless
    ``experiment_id``): the plot, the CSVs, the table as its description, the parents' run
    ids as tags (``dse.compared``, ``dse.compared.<i>``) and linked. Returns its run id."""
    from mlflow.entities import Param, RunTag

    x, y = common_objectives(sweeps)
    bands = dominance_bands(sweeps, x, y)
    exp = experiment_id or sweeps[0].experiment_id
    tags = {
        "dse.kind": COMPARISON_KIND,
        TAG_COMPARED: ",".join(s.parent_run_id for s in sweeps),
        **{f"{TAG_COMPARED}.{i}": s.parent_run_id for i, s in enumerate(sweeps)},
        "mlflow.note.content": comparison_markdown(sweeps, bands, x, y),
    }
    name = "compare " + " vs ".join(s.name for s in sweeps)
    run_id = client.create_run(exp, run_name=name[:250]).info.run_id
    params = [
        Param("compare.sweeps", ", ".join(s.name for s in sweeps)[:6000]),
        Param("compare.objectives", _text([x, y])),
    ]
    client.log_batch(run_id, params=params, tags=[RunTag(k, v) for k, v in tags.items()])
    with tempfile.TemporaryDirectory(prefix="dse-compare-") as tmp:
        write_comparison(sweeps, Path(tmp), x, y)
        client.log_artifacts(run_id, tmp)
    client.set_terminated(run_id, "FINISHED")
    return run_id


__all__ = [
    "COMPARISON_KIND",
    "TAG_COMPARED",
    "Band",
    "SweepFrontData",
    "bands_table",
    "common_objectives",
    "dominance_bands",
    "find_sweep",
    "load_front",
    "record_comparison",
    "unique_names",
    "write_comparison",
]
