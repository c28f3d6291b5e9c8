"""The front as people read it: the plot's axes and labels, the CSV, the Markdown, run names."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest

from dse.front.browse import front_list_url, front_view, runs_url
from dse.front.pareto import pareto_mask
from dse.front.render import (
    AXIS_MARGIN,
    FrontSummary,
    TrialPoint,
    draw_front,
    round_sig,
    short_settings,
    write_front_files,
)
from dse.front.search import Constraint, Objective

OBJ = [Objective("snn_accuracy", "maximize"), Objective("energy_uj", "minimize")]
SWEPT = ["coding.time_window", "hardware.num_pes", "quantizer.bits"]
PAPER = ("paper: log 5-bit, T = 8", {"quantizer.bits": "5", "coding.time_window": "8"})


def summary_with_outliers(n: int = 30, collapsed: int = 5, energy_decades: float = 0.5):
    """A digits-like sweep: feasible points at 88-97 %, ``collapsed`` infeasible at ~10 %."""
    rng = np.random.default_rng(1)
    points = []
    for i in range(n + collapsed):
        bits, t, pes = int(rng.integers(3, 7)), int(rng.integers(2, 9)), int(rng.integers(4, 257))
        acc = 88.0 + t + rng.random() if i < n else 10.0 + rng.random()
        energy = 0.1 * 10 ** (energy_decades * rng.random()) * (1 + t / 8)
        params = {"quantizer.bits": str(bits), "coding.time_window": str(t)}
        params |= {"hardware.num_pes": str(pes), "dataset": "digits"}
        metrics = {"snn_accuracy": acc, "energy_uj": energy, "latency_ms": 0.0123456789}
        points.append(TrialPoint(f"run{i:028d}", f"trial {i}", i, params, metrics, acc >= 80))
    points.append(
        TrialPoint(
            "paper",
            f"trial {len(points)}",
            len(points),
            {"quantizer.bits": "5", "coding.time_window": "8", "hardware.num_pes": "256"},
            {"snn_accuracy": 96.3, "energy_uj": 0.33, "latency_ms": 0.011},
            True,
        )
    )
    values = np.array([[p.metrics["snn_accuracy"], p.metrics["energy_uj"]] for p in points])
    mask = pareto_mask(values, ["maximize", "minimize"], np.array([p.feasible for p in points]))
    for p, on in zip(points, mask, strict=True):
        p.pareto = bool(on)
    constraints = [Constraint.parse("snn_accuracy >= 80")]
    ref = {"snn_accuracy": 0.0, "energy_uj": 1.0}
    return FrontSummary(OBJ, constraints, points, SWEPT, ref, 1.0, len(points), 0, "7", PAPER)


def test_axes_fit_the_feasible_points_not_the_collapsed_ones() -> None:
    s = summary_with_outliers()
    fig = draw_front(s)
    ax = fig.axes[0]
    feasible = np.array([p.metrics["snn_accuracy"] for p in s.points if p.feasible])
    span = feasible.max() - feasible.min()
    lo, hi = ax.get_xlim()
    # within the feasible range plus the margin (the 80 % bound lies too far off to widen it)
    assert feasible.min() - 1.01 * AXIS_MARGIN * span <= lo < feasible.min()
    assert feasible.max() < hi <= feasible.max() + 1.01 * AXIS_MARGIN * span
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("violates snn_accuracy >= 80 (5, 5 off the axes)" in t for t in legend), legend
    assert PAPER[0] in legend  # the reference design is marked
    assert ax.get_yscale() == "linear"  # 0.1-0.6 uJ: under a decade
    assert "constraint snn_accuracy >= 80 (left of the axes)" in legend
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_every_front_point_is_labelled_in_the_saved_svg(tmp_path: Path) -> None:
    s = summary_with_outliers()
    files = write_front_files(s, tmp_path)
    assert {f.name for f in files} >= {"pareto_front.png", "pareto_front.svg", "pareto_front.csv"}
    svg = (tmp_path / "pareto_front.svg").read_text()
    assert s.front, "the fixture has a front"
    for p in s.front:
        label = short_settings(p.params, SWEPT)
        assert label.startswith("T") and "PE" in label
        assert f">{label}<" in svg, label
    assert (tmp_path / "pareto_front.png").read_bytes()[:4] == b"\x89PNG"
    # the saved x axis: its tick labels all lie within the feasible range plus the margin
    # (the collapsed points at ~10 % would put ticks at 20, 40, 60, ...)
    ticks = [
        float(t) for t in re.findall(r'<g id="xtick_\d+">.*?<text[^>]*>([^<]*)</text>', svg, re.S)
    ]
    feasible = [p.metrics["snn_accuracy"] for p in s.points if p.feasible]
    pad = AXIS_MARGIN * (max(feasible) - min(feasible))
    assert (
        len(ticks) >= 3 and min(feasible) - pad <= min(ticks) <= max(ticks) <= max(feasible) + pad
    )


def test_energy_over_a_decade_is_drawn_on_a_log_axis() -> None:
    s = summary_with_outliers(energy_decades=2.0)
    fig = draw_front(s)
    assert fig.axes[0].get_yscale() == "log"
    assert "log scale" in fig.axes[0].get_ylabel()
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_a_bound_close_to_the_points_is_drawn_as_a_line() -> None:
    s = summary_with_outliers()
    s.constraints = [Constraint.parse("snn_accuracy >= 88")]  # close below the feasible ones
    fig = draw_front(s)
    ax = fig.axes[0]
    assert ax.get_xlim()[0] < 88  # the axis takes the nearby bound in
    lines = [ln for ln in ax.get_lines() if ln.get_label() == "constraint snn_accuracy >= 88"]
    assert len(lines) == 1 and lines[0].get_xdata()[0] == 88
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_csv_has_trial_settings_and_objectives_first_rounded(tmp_path: Path) -> None:
    s = summary_with_outliers()
    write_front_files(s, tmp_path)
    rows = list(csv.reader((tmp_path / "pareto_front.csv").open()))
    assert rows[0][:6] == ["trial", *SWEPT, "snn_accuracy", "energy_uj"]
    assert rows[0][-1] == "run_id" and len(rows) == len(s.front) + 1
    for row, p in zip(rows[1:], s.front, strict=True):
        assert row[0] == str(p.trial)
        latency = row[rows[0].index("latency_ms")]
        assert latency == ("0.011" if p.run_id == "paper" else "0.01235")  # 4 significant digits
        assert float(row[4]) == pytest.approx(p.metrics["snn_accuracy"], rel=1e-3)
        assert len(row[4].replace(".", "").lstrip("0")) <= 4


def test_round_sig() -> None:
    assert round_sig(96.28252788) == "96.28"
    assert round_sig(0.000123456) == "0.0001235"
    assert round_sig(252512.0) == "252500"
    assert round_sig(0.0) == "0"


def test_markdown_links_the_front_to_its_runs_and_names_the_reference() -> None:
    s = summary_with_outliers()
    text = s.markdown(link_base="#")
    for p in s.front:
        assert f"[{p.name}](#/experiments/7/runs/{p.run_id})" in text
    assert "| trial | coding.time_window | hardware.num_pes | quantizer.bits |" in text
    assert "reference point: snn_accuracy 0, energy_uj 1" in text
    assert "Reference design: paper: log 5-bit, T = 8" in text and "trial 35" in text
    assert f"`{s.front[0].run_id}`" in s.markdown()  # no base: plain ids


def test_front_url_opens_a_shared_view_of_the_sweeps_pareto_children() -> None:
    from urllib.parse import parse_qs, urlsplit

    url = front_list_url("http://127.0.0.1:5000", "3", "abc")
    fragment = urlsplit(url).fragment
    path, _, query = fragment.partition("?")
    assert path == "/experiments/3/runs"
    # MLflow 3.17's UI lands on GenAI pages unless the URL (or the browser) picks its
    # "Model training" side; checked in headless Chromium by scripts/screenshots.py
    assert parse_qs(query) == {
        "viewStateShareKey": ["front-abc"],
        "workflowType": ["machine_learning"],
    }
    assert (
        runs_url("http://h:5000/", "3")
        == "http://h:5000/#/experiments/3/runs?workflowType=machine_learning"
    )
    s = summary_with_outliers()
    s.varying_params = ["coding", "quantizer.bits"]  # a plugin choice is a tag, not a param
    view = front_view(s, "abc")
    assert view["searchFilter"] == (
        "tags.`dse.pareto_optimal` = 'true' and tags.`mlflow.parentRunId` = 'abc'"
    )
    assert view["orderByKey"] == "metrics.`snn_accuracy`" and view["orderByAsc"] is False
    assert view["selectedColumns"] == [
        "metrics.`snn_accuracy`",
        "metrics.`energy_uj`",
        "tags.`dse.coding`",
        "params.`quantizer.bits`",
        "tags.`dse.feasible`",
    ]
    (chart,) = view["compareRunCharts"]  # the chart view's first section: the scatter
    assert chart["type"] == "SCATTER" and chart["metricSectionId"] == "dse-front"
    assert chart["xaxis"] == {"key": "snn_accuracy", "type": "METRIC"}
    assert chart["yaxis"] == {"key": "energy_uj", "type": "METRIC"}
    assert view["compareRunSections"][0]["uuid"] == "dse-front"
