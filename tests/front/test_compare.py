"""Which sweep's front dominates where (dse.front.compare), on hand-made fronts."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from dse.api.errors import ConfigError
from dse.front.compare import (
    DEFAULT_OBJECTIVES,
    SweepFrontData,
    bands_table,
    common_objectives,
    dominance_bands,
    write_comparison,
)
from dse.front.render import TrialPoint
from dse.front.search import Objective

X, Y = DEFAULT_OBJECTIVES


def front(name: str, rows, band: float = 0.0) -> SweepFrontData:
    points = []
    for i, (acc, energy) in enumerate(rows):
        m = {"snn_accuracy": acc, "energy_uj": energy}
        if band:
            m |= {"energy_uj_low": energy * (1 - band), "energy_uj_high": energy * (1 + band)}
        points.append(TrialPoint(f"{name}{i}", f"t{i}", i, {}, m, True, True))
    return SweepFrontData(name, f"parent-{name}", "1", list(DEFAULT_OBJECTIVES), points)


def test_bands_say_which_front_is_cheapest_at_each_accuracy() -> None:
    a = front("ttfs", [(80.0, 1.0), (90.0, 2.0)])
    b = front("rate", [(85.0, 1.5), (95.0, 4.0)])
    bands = dominance_bands([a, b], X, Y)
    got = [(b.low, b.high, b.winners, b.best, b.runner_up, b.runner_up_value) for b in bands]
    assert got == [
        (None, 80.0, ("ttfs",), 1.0, "rate", 1.5),  # up to 80 %: ttfs at 1 uJ, rate at 1.5
        (80.0, 85.0, ("rate",), 1.5, "ttfs", 2.0),  # rate's 85 % point beats ttfs's 90 %
        (85.0, 90.0, ("ttfs",), 2.0, "rate", 4.0),
        (90.0, 95.0, ("rate",), 4.0, None, None),  # only rate reaches 95 %
    ]
    assert all(b.clear for b in bands)  # no bands recorded: values are exact
    table = bands_table(bands, X, Y)
    assert "<= 80" in table and "(80, 85]" in table and "1.5x" in table


def test_same_winner_merges_and_overlapping_bands_are_not_clear() -> None:
    a = front("ttfs", [(80.0, 1.0), (90.0, 2.0)], band=0.2)
    b = front("ann", [(85.0, 3.0)], band=0.2)
    (band,) = dominance_bands([a, b], X, Y)  # ttfs everywhere up to 90 %
    assert (band.low, band.high, band.winners, band.runner_up) == (None, 90.0, ("ttfs",), None)
    assert band.clear  # 2.0 * 1.2 < 3.0 * 0.8 and 1.2 < 2.4
    c = front("rate", [(85.0, 1.6)], band=0.2)
    bands = dominance_bands([a, c], X, Y)
    assert [b.winners for b in bands] == [("ttfs",), ("rate",), ("ttfs",)]
    # up to 80 %: ttfs's 1.2 at worst < rate's 1.28 at best; then rate's 1.92 > ttfs's 1.6
    assert [b.clear for b in bands] == [True, False, True]
    assert "clear of bands no" in bands_table(bands, X, Y)


def test_ties_name_both_fronts() -> None:
    bands = dominance_bands([front("a", [(90.0, 1.0)]), front("b", [(90.0, 1.0)])], X, Y)
    assert bands[0].winners == ("a", "b")


def test_files_hold_every_front(tmp_path: Path) -> None:
    a = front("ttfs", [(80.0, 1.0), (90.0, 2.0)], band=0.1)
    b = front("rate", [(85.0, 1.5)])
    files = write_comparison([a, b], tmp_path, X, Y)
    assert {f.name for f in files} >= {"fronts.png", "fronts.svg", "fronts.csv", "dominance.csv"}
    assert (tmp_path / "fronts.png").read_bytes()[:4] == b"\x89PNG"
    rows = list(csv.DictReader((tmp_path / "fronts.csv").open()))
    assert {r["run_id"] for r in rows} == {"ttfs0", "ttfs1", "rate0"}
    assert {r["sweep"] for r in rows} == {"ttfs", "rate"}
    svg = (tmp_path / "fronts.svg").read_text()
    assert "ttfs (2 front points)" in svg and "rate (1 front points)" in svg


def test_fronts_of_different_objectives_do_not_compare() -> None:
    a = front("a", [(90.0, 1.0)])
    b = front("b", [(90.0, 1.0)])
    b.objectives = [X, Objective("latency_ms", "minimize")]
    with pytest.raises(ConfigError, match="different objectives"):
        common_objectives([a, b])
