"""Multi-fidelity search: which low-fidelity design points earn full training.

Every design point of a multi-fidelity sweep first trains at a low fidelity (the first
epochs of its schedule); it is promoted to full fidelity when it ranks among the best
``1/eta`` of all low-fidelity results so far (its *rung*), else it stops there. That is
successive halving (Jamieson & Talwalkar, AISTATS 2016) decided as each result arrives,
as in ASHA (Li et al., MLSys 2020); with several objectives the rung is ranked by
non-dominated sorting, as MO-ASHA does (Schmucker et al., "Multi-objective Asynchronous
Successive Halving", 2021), with NSGA-II's crowding distance breaking ties within a rank
and constraint domination putting feasible points first (Deb et al., IEEE TEVC 2002).

A point that breaks a search constraint at low fidelity is not promoted (its accuracy may
still rise with training, so a bound close to the rung's accuracies costs some points;
the search's bounds are what the user asked of every design). A decision is final: a point not promoted when it arrives is not promoted later, so a
sweep never holds a trial open waiting for its rung to grow (Optuna's trials end PRUNED or
COMPLETE at once, and a killed sweep leaves nothing half-decided).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dse.api.errors import require
from dse.api.interfaces import FULL_FIDELITY, LOW_FIDELITY
from dse.front.pareto import as_minimization, pareto_mask

FIDELITY_TAG = "dse.fidelity"  # "low" | "full" on every design run of a search
LOW, FULL = LOW_FIDELITY, FULL_FIDELITY  # dse.api.interfaces owns the names


@dataclass(frozen=True)
class Fidelity:
    """``hydra.sweeper.fidelity``: the config key that lowers fidelity, its low value, and
    the share ``1/eta`` of each rung promoted to full fidelity."""

    key: str
    low: int
    eta: float = 3.0

    def __post_init__(self) -> None:
        require(bool(self.key), "hydra.sweeper.fidelity.key", "must name a config key", self.key)
        require(self.low >= 1, "hydra.sweeper.fidelity.low", "must be >= 1", self.low)
        require(self.eta > 1, "hydra.sweeper.fidelity.eta", "must be > 1", self.eta)

    def low_override(self) -> str:
        return f"{self.key}={self.low}"


def nondominated_ranks(values: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    """Rank 0 for the front, 1 for the front of the rest, ... (rows with NaN: last)."""
    n = values.shape[0]
    ranks = np.full(n, n, dtype=int)
    left = ~np.isnan(np.asarray(values, dtype=float)).any(axis=1) if n else np.zeros(0, bool)
    rank = 0
    while left.any():
        front = pareto_mask(values, directions, feasible=left)
        ranks[front] = rank
        left &= ~front
        rank += 1
    return ranks


def crowding_distances(values: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    """NSGA-II's crowding distance of each row within its set (ends: infinite)."""
    v = as_minimization(np.asarray(values, dtype=float), directions)
    n, m = v.shape
    out = np.zeros(n)
    if n <= 2:
        return np.full(n, np.inf)
    for j in range(m):
        order = np.argsort(v[:, j], kind="stable")
        span = v[order[-1], j] - v[order[0], j]
        out[order[0]] = out[order[-1]] = np.inf
        if span > 0:
            out[order[1:-1]] += (v[order[2:], j] - v[order[:-2], j]) / span
    return out


def rung_order(
    values: np.ndarray, directions: Sequence[str], violations: np.ndarray | None = None
) -> np.ndarray:
    """Row indices best first: feasible rows by (non-dominated rank, larger crowding
    distance), then infeasible rows by total violation (smaller first)."""
    values = np.asarray(values, dtype=float)
    n = values.shape[0]
    violation = np.zeros(n) if violations is None else np.asarray(violations, dtype=float)
    feasible = violation <= 0
    ranks = np.full(n, n, dtype=int)
    crowd = np.zeros(n)
    idx = np.flatnonzero(feasible)
    if idx.size:
        ranks[idx] = nondominated_ranks(values[idx], directions)
        for r in np.unique(ranks[idx]):
            members = idx[ranks[idx] == r]
            crowd[members] = crowding_distances(values[members], directions)
    keys = [
        (0, ranks[i], -crowd[i], i) if feasible[i] else (1, violation[i], 0.0, i) for i in range(n)
    ]
    return np.array([k[-1] for k in sorted(keys)], dtype=int)


def promoted(
    candidate: int,
    values: np.ndarray,
    directions: Sequence[str],
    eta: float,
    violations: np.ndarray | None = None,
) -> bool:
    """Whether row ``candidate`` of the rung ``values`` is among its best ``ceil(n/eta)``
    and breaks no bound at low fidelity (a point the constraints already rule out is not
    trained further, even when it is the rung's first)."""
    n = np.asarray(values).shape[0]
    require(0 <= candidate < n, "candidate", f"must be a row of the rung (0..{n - 1})", candidate)
    if violations is not None and float(np.asarray(violations)[candidate]) > 0:
        return False
    best = rung_order(values, directions, violations)[: math.ceil(n / eta)]
    return bool(candidate in best)
