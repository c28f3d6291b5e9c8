"""Properties of the Pareto helpers against brute force."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from dse.api.errors import ConfigError
from dse.front.pareto import Constraint, Objective, default_reference, hypervolume, pareto_mask

DIRS = ["maximize", "minimize", "minimize", "maximize"]


def brute_mask(values: np.ndarray, directions, feasible=None) -> np.ndarray:
    v = np.where(np.array(directions) == "maximize", -values, values)
    n = len(v)
    ok = np.ones(n, bool) if feasible is None else np.asarray(feasible)
    out = np.zeros(n, bool)
    for i in range(n):
        if not ok[i]:
            continue
        out[i] = not any(
            ok[j] and all(v[j] <= v[i]) and any(v[j] < v[i]) for j in range(n) if j != i
        )
    return out


def brute_volume(points: np.ndarray, directions, reference) -> int:
    """Count the unit cells of an integer grid dominated by the points (minimisation form)."""
    sign = np.where(np.array(directions) == "maximize", -1, 1)
    p = points * sign
    ref = np.asarray(reference) * sign
    lo = p.min(axis=0)
    count = 0
    for cell in itertools.product(*(range(int(a), int(b)) for a, b in zip(lo, ref, strict=True))):
        if ((p <= np.array(cell)).all(axis=1)).any():
            count += 1
    return count


@pytest.mark.parametrize("m", [2, 3, 4])
def test_hypervolume_matches_grid_counting(m: int) -> None:
    rng = np.random.default_rng(m)
    dirs = DIRS[:m]
    sign = np.where(np.array(dirs) == "maximize", -1, 1)
    for _ in range(8):
        n = int(rng.integers(1, 9))
        pts = rng.integers(0, 7, size=(n, m)) * sign  # maximised columns are negative numbers
        ref = np.full(m, 8) * sign
        assert hypervolume(pts, dirs, ref) == brute_volume(pts, dirs, ref)


def test_pareto_mask_matches_brute_force_with_feasibility() -> None:
    rng = np.random.default_rng(0)
    for m in (1, 2, 3, 4):
        for _ in range(20):
            vals = rng.integers(0, 5, size=(int(rng.integers(1, 15)), m)).astype(float)
            feas = rng.random(len(vals)) < 0.7
            dirs = DIRS[:m]
            assert (pareto_mask(vals, dirs) == brute_mask(vals, dirs)).all()
            got = pareto_mask(vals, dirs, feas)
            assert (got == brute_mask(vals, dirs, feas)).all()
            assert not (got & ~feas).any()  # infeasible never on the front


def test_duplicates_are_both_kept_and_nan_rows_excluded() -> None:
    vals = np.array([[90.0, 1.0], [90.0, 1.0], [80.0, 2.0], [np.nan, 0.1]])
    assert pareto_mask(vals, ["maximize", "minimize"]).tolist() == [True, True, False, False]


def test_hypervolume_invariances_and_monotonicity() -> None:
    rng = np.random.default_rng(1)
    dirs = ["maximize", "minimize", "minimize"]
    pts = rng.random((12, 3)) * [100, 5, 2]
    ref = np.array([0.0, 6.0, 3.0])
    hv = hypervolume(pts, dirs, ref)
    assert hv > 0
    assert math.isclose(hypervolume(pts[rng.permutation(12)], dirs, ref), hv)
    # scaling one objective scales the volume; translating points and reference keeps it
    assert math.isclose(hypervolume(pts * [1, 3, 1], dirs, ref * [1, 3, 1]), 3 * hv)
    assert math.isclose(hypervolume(pts + [5, -1, 7], dirs, ref + [5, -1, 7]), hv)
    # flipping a direction with the values negated is the same problem
    flipped = ["minimize", "minimize", "minimize"]
    assert math.isclose(hypervolume(pts * [-1, 1, 1], flipped, ref * [-1, 1, 1]), hv)
    # dominated points add nothing; adding points never decreases the volume
    mask = pareto_mask(pts, dirs)
    assert math.isclose(hypervolume(pts[mask], dirs, ref), hv)
    prev = 0.0
    for k in range(1, 13):
        cur = hypervolume(pts[:k], dirs, ref)
        assert cur >= prev - 1e-12
        prev = cur
    # points worse than the reference in some objective contribute nothing
    assert hypervolume(np.array([[50.0, 7.0, 1.0]]), dirs, ref) == 0.0
    assert hypervolume(np.empty((0, 3)), dirs, ref) == 0.0


def test_two_objective_value_by_hand() -> None:
    # accuracy up, energy down; reference (0 %, 10 uJ)
    pts = np.array([[90.0, 4.0], [80.0, 2.0], [70.0, 3.0]])
    # slabs: 90 x (10-4) + 80 x (4-2) = 540 + 160
    assert hypervolume(pts, ["maximize", "minimize"], [0.0, 10.0]) == pytest.approx(700.0)


def test_default_reference_is_beyond_every_point() -> None:
    vals = np.array([[90.0, 4.0], [80.0, 2.0], [85.0, 2.0]])
    ref = default_reference(vals, ["maximize", "minimize"])
    assert ref.tolist() == pytest.approx([79.0, 4.2])
    same = default_reference(np.array([[50.0, 0.0]]), ["maximize", "minimize"])
    assert same.tolist() == pytest.approx([45.0, 0.1])
    # every point adds volume with the default reference
    for row in vals:
        assert hypervolume(row[None], ["maximize", "minimize"], ref) > 0


def test_constraint_parse_and_violation() -> None:
    c = Constraint.parse("area_mm2 <= 2")
    assert (c.metric, c.op, c.bound) == ("area_mm2", "<=", 2.0)
    assert c.violation({"area_mm2": 1.5}) == -0.5
    assert c.violation({"area_mm2": 2.0}) == 0.0
    assert c.violation({"area_mm2": 3.0}) == 1.0
    strict = Constraint.parse("latency_ms<10")
    assert strict.violation({"latency_ms": 10.0}) > 0  # equality breaks a strict bound
    lower = Constraint.parse("snn_accuracy >= 90.5")
    assert lower.violation({"snn_accuracy": 95.0}) == pytest.approx(-4.5)
    assert lower.violation({"snn_accuracy": 90.0}) == pytest.approx(0.5)
    assert Constraint.parse("x > 1e-3").violation({"x": 1e-3}) > 0
    assert str(Constraint.parse("area_mm2<=2")) == "area_mm2 <= 2"
    for bad in ("area_mm2 = 2", "area_mm2 <= two", "<= 2", "area_mm2 <= inf"):
        with pytest.raises(ConfigError, match="search.constraints"):
            Constraint.parse(bad)
    with pytest.raises(ConfigError, match="area_mm2"):
        c.violation({"energy_uj": 1.0})


def test_objective_validation() -> None:
    assert Objective.from_config({"metric": "energy_uj", "direction": "minimize"}).metric
    with pytest.raises(ConfigError, match="direction"):
        Objective("energy_uj", "lowest")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="search.objectives"):
        Objective.from_config({"direction": "minimize"})
