"""Why each point is where it is (dse.front.explain), on hand-made fronts."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from dse.front.explain import dominates, explain, margins
from dse.front.pareto import pareto_mask
from dse.front.render import FrontSummary, TrialPoint
from dse.front.search import Constraint, Objective

OBJ = [Objective("snn_accuracy", "maximize"), Objective("energy_uj", "minimize")]
ACC80 = [Constraint.parse("snn_accuracy >= 80")]


def summary(rows, constraints=ACC80) -> FrontSummary:
    """rows: (trial, accuracy, energy); feasibility and Pareto flags computed here."""
    points = []
    for trial, acc, energy in rows:
        m = {"snn_accuracy": acc, "energy_uj": energy}
        ok = all(c.satisfied(m) for c in constraints)
        points.append(TrialPoint(f"run{trial}", f"trial {trial}", trial, {}, m, ok))
    values = np.array([[p.metrics["snn_accuracy"], p.metrics["energy_uj"]] for p in points])
    mask = pareto_mask(values, ["maximize", "minimize"], np.array([p.feasible for p in points]))
    for p, on in zip(points, mask, strict=True):
        p.pareto = bool(on)
    return FrontSummary(OBJ, list(constraints), points, [], None, 0.0, len(points), 0, "1")


ROWS = [
    (0, 90.0, 1.0),  # front
    (1, 95.0, 2.0),  # front
    (2, 85.0, 1.5),  # dominated by 0 (5 higher, 0.5 lower) and not by 1
    (3, 88.0, 2.5),  # dominated by 0 (2, 1.5) and by 1 (7, 0.5)
    (4, 70.0, 0.1),  # infeasible: 10 below the bound
    (5, 95.0, 2.00009),  # ties trial 1 on accuracy, a little more energy: dominated
]


def test_dominated_points_name_a_trial_that_really_dominates_them() -> None:
    s = summary(ROWS)
    why = explain(s)
    by_id = {p.run_id: p for p in s.points}
    for p in s.points:
        e = why[p.run_id]
        if e.verdict != "dominated":
            continue
        q = e.dominated_by
        assert q is not None and q.pareto and dominates(q, p, OBJ)
        assert [e.margins[o.metric] for o in OBJ] == pytest.approx(margins(q, p, OBJ))
        assert all(v >= 0 for v in e.margins.values())
        assert q.name in e.sentence and e.sentence.count(".") >= 1
        assert by_id[q.run_id] is q
    # trial 3, margins over the feasible spans (10 %, 1.5 uJ): trial 1 (0.7, 0.33), trial 0 (0.2, 1)
    assert why["run3"].dominated_by.name == "trial 1"
    assert why["run2"].dominated_by.name == "trial 0"
    assert why["run2"].margins == {"snn_accuracy": 5.0, "energy_uj": 0.5}
    assert "snn_accuracy 5 higher" in why["run2"].sentence
    assert "energy_uj 0.5 lower" in why["run2"].sentence
    # a tie on accuracy: dominated through energy alone, "the same snn_accuracy"
    assert why["run5"].dominated_by.name == "trial 1"
    assert "the same snn_accuracy" in why["run5"].sentence
    assert why["run0"].verdict == "front" and why["run1"].verdict == "front"
    tags = why["run2"].tags()
    assert tags["dse.why"] == "dominated" and tags["dse.dominated_by"] == "run0"
    assert float(tags["dse.margin.energy_uj"]) == 0.5
    assert "[trial 0](#/experiments/1/runs/run0)" in tags["mlflow.note.content"]


def test_infeasible_point_names_its_constraint_with_the_margin() -> None:
    s = summary(ROWS, [*ACC80, Constraint.parse("energy_uj < 2.2")])
    e = explain(s)["run4"]
    assert e.verdict == "infeasible"
    assert e.violations == {"snn_accuracy >= 80": pytest.approx(10.0)}
    assert "snn_accuracy >= 80 by 10 (snn_accuracy is 70)" in e.sentence
    assert e.tags()["dse.violation.snn_accuracy"] == repr(10.0)
    both = explain(s)["run3"]  # 88 %, 2.5 uJ: breaks the energy bound by 0.3
    assert both.verdict == "infeasible" and both.violations["energy_uj < 2.2"] == pytest.approx(0.3)
    assert "energy_uj < 2.2 by 0.3" in both.sentence


def test_strongest_dominator_is_on_the_front_for_random_sweeps() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        rows = [(i, *rng.random(2) * [100, 5]) for i in range(15)]
        s = summary(rows, [])
        why = explain(s)
        for p, q in itertools.product(s.points, s.points):
            e = why[p.run_id]
            if e.verdict == "dominated":
                assert e.dominated_by.pareto and dominates(e.dominated_by, p, OBJ)
            if p.pareto:
                assert e.verdict == "front" and not dominates(q, p, OBJ)


def test_nan_objective_is_not_ranked() -> None:
    s = summary([(0, 90.0, 1.0), (1, math.nan, 1.0)], [])
    assert explain(s)["run1"].verdict == "unranked"


def test_best_per_objective_on_a_tie_picks_the_front_point() -> None:
    # trial 4 ties trial 44 on accuracy and spends 0.00009 uJ more (the case), listed first
    s = summary([(4, 96.0, 0.30009), (44, 96.0, 0.3), (7, 90.0, 0.2)], [])
    assert not s.points[0].pareto and s.points[1].pareto
    best = s.best()
    assert best["snn_accuracy"].name == "trial 44" and best["energy_uj"].name == "trial 7"
    assert "(trial 44, run" in s.markdown()
