"""Pareto-front math: dominance, hypervolume and the reference point.

The functions work on an ``(n, m)`` array of objective values with one direction per
column. Internally every column is turned into a minimisation (maximised columns are
negated), so "a dominates b" means ``a <= b`` everywhere and ``a < b`` somewhere.

The rest of a sweep's front lives beside it: the search spec (objectives, constraints)
in :mod:`dse.front.search`, the summary and its renderings (table, Markdown, CSV, plots) in
:mod:`dse.front.render`, its record on the sweep's MLflow parent run in
:mod:`dse.front.store`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dse.api.errors import require

# The search spec, importable from here as before the split.
from dse.front.search import DIRECTIONS, Constraint, Direction, Objective


def as_minimization(values: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    """``values`` with maximised columns negated (``(n, m)``; its own inverse)."""
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
    v = as_minimization(values, directions)
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


def robust_mask(
    values: np.ndarray,
    lows: np.ndarray,
    highs: np.ndarray,
    directions: Sequence[str],
    feasible: np.ndarray | None = None,
) -> np.ndarray:
    """Front points whose place holds anywhere inside the bands.

    ``lows`` / ``highs`` bound each value (equal to ``values`` where an objective has no
    band). A front point is *not robust* when another feasible point, at its best end of
    every band, dominates it at its worst end: some choice of the constants inside their
    stated ranges puts the other point ahead. Returns a mask over the rows: True for a
    robust front point, False for every other row. (Treats the points' errors as
    independent; points priced by one model share constants, so this is conservative.)
    """
    v = as_minimization(values, directions)
    lo = as_minimization(lows, directions)
    hi = as_minimization(highs, directions)
    best, worst = np.minimum(lo, hi), np.maximum(lo, hi)  # maximised columns were negated
    front = pareto_mask(values, directions, feasible)
    n = v.shape[0]
    candidate = np.ones(n, dtype=bool) if feasible is None else np.asarray(feasible, dtype=bool)
    if n:
        candidate &= ~np.isnan(v).any(axis=1)
    out = front.copy()
    for i in np.flatnonzero(front):
        others = candidate.copy()
        others[i] = False
        b = best[others]
        beats = (b <= worst[i]).all(axis=1) & (b < worst[i]).any(axis=1)
        out[i] = not beats.any()
    return out


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
    ref = as_minimization(np.asarray(reference, dtype=float)[None, :], directions)[0]
    v = as_minimization(points, directions)
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
    v = as_minimization(values, directions)
    v = v[~np.isnan(v).any(axis=1)]
    require(v.shape[0] > 0, "values", "need at least one point without NaN", values)
    worst, best = v.max(axis=0), v.min(axis=0)
    span = worst - best
    push = np.where(span > 0, span, np.where(worst != 0, np.abs(worst), 1.0)) * margin
    ref = worst + push
    signs = np.array([-1.0 if d == "maximize" else 1.0 for d in directions])
    return ref * signs


__all__ = [
    "DIRECTIONS",
    "Constraint",
    "Direction",
    "Objective",
    "as_minimization",
    "default_reference",
    "hypervolume",
    "pareto_mask",
    "robust_mask",
]
