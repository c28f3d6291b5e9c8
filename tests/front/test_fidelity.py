"""The promotion rule of multi-fidelity search, on hand-made rungs."""

from __future__ import annotations

import numpy as np
import pytest

from dse.api.errors import ConfigError
from dse.front.fidelity import (
    Fidelity,
    crowding_distances,
    nondominated_ranks,
    promoted,
    rung_order,
)

DIRS = ["maximize", "minimize"]  # accuracy up, energy down


def test_nondominated_ranks_peel_fronts() -> None:
    v = np.array([[90, 1.0], [80, 0.5], [85, 1.0], [70, 0.6], [60, 2.0]])
    # front: (90,1), (80,.5); then (85,1) and (70,.6); then (60,2)
    assert nondominated_ranks(v, DIRS).tolist() == [0, 0, 1, 1, 2]


def test_crowding_prefers_the_ends_and_sparse_middles() -> None:
    v = np.array([[90, 3.0], [89, 2.9], [80, 2.0], [70, 1.0]])
    d = crowding_distances(v, DIRS)
    assert np.isinf(d[0]) and np.isinf(d[3])
    assert d[2] > d[1]  # (80, 2) sits in a wider gap than (89, 2.9)


def test_rung_order_puts_feasible_by_rank_then_infeasible_by_violation() -> None:
    v = np.array([[99, 0.1], [90, 1.0], [85, 2.0], [95, 0.5]])
    violations = np.array([5.0, 0.0, 0.0, 1.0])  # the best-looking ones break a bound
    assert rung_order(v, DIRS, violations).tolist() == [1, 2, 3, 0]


def test_promoted_takes_the_best_ceil_n_over_eta() -> None:
    v = np.array([[90, 1.0], [80, 2.0], [70, 3.0], [95, 0.5], [60, 4.0], [50, 5.0]])
    # eta 3 over 6 points: the best 2 are promoted; (95, .5) dominates all, (90, 1) next
    assert [promoted(i, v, DIRS, 3) for i in range(6)] == [True, False, False, True, False, False]
    assert promoted(0, v[:1], DIRS, 3)  # the first result of a rung is its best


def test_fidelity_settings_are_checked() -> None:
    assert Fidelity("training.stop_epoch", 1).low_override() == "training.stop_epoch=1"
    with pytest.raises(ConfigError, match="eta"):
        Fidelity("training.stop_epoch", 1, eta=1)
    with pytest.raises(ConfigError, match="low"):
        Fidelity("training.stop_epoch", 0)


def test_a_point_breaking_a_bound_at_low_fidelity_is_never_promoted() -> None:
    v = np.array([[9.4, 25.0]])  # a collapsed 2-bit network, alone in its rung
    assert promoted(0, v, DIRS, 3)  # without constraints the rung's first goes on
    assert not promoted(0, v, DIRS, 3, violations=np.array([70.6]))
