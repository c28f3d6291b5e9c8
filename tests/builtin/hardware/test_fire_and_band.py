"""Issue 22: the TTFS fire models, the energy band, weight residency, calibration, and
average pooling, each on hand-sized workloads (tests/support/hardware.py)."""

from __future__ import annotations

import dataclasses
import math

import pytest

from dse.api.errors import ConfigError
from dse.api.interfaces import EnergyBreakdown, HardwareReport
from dse.builtin.hardware import ANNAccelerator, RateProcessor, TTFSProcessor, load_technology
from dse.front.render import FrontSummary, TrialPoint
from dse.front.search import Objective
from dse.point.pipeline import DesignPointResult, Measurement
from tests.support.hardware import tiny_workload, toy_technology

T = 4


def ttfs(**kw) -> TTFSProcessor:
    base = dict(num_pes=2, weight_sram_kb=1.0, position_parallel=2, technology=toy_technology())
    return TTFSProcessor(**{**base, **kw})


# ------------------------------------------------------------------ membrane reads


@pytest.mark.parametrize(("fire", "reads_per_neuron"), [("leading_one", 1), ("scan", T)])
def test_membrane_reads_per_layer(fire: str, reads_per_neuron: int) -> None:
    """A firing layer of N neurons: N reads (leading one) or N x T (scan); the read-out
    layer is read once per neuron in both; pooling reads none."""
    w = tiny_workload(time_window=T)
    report = ttfs(fire=fire).estimate(w)
    reads = {c.name: c.membrane_reads for c in report.layers}
    assert reads == {"conv1": 48 * reads_per_neuron, "pool1": 0, "linear1": 5}


def test_leading_one_fire_is_cheaper_and_faster_than_the_scan() -> None:
    w = tiny_workload(time_window=8)
    one, scan = ttfs(fire="leading_one").estimate(w), ttfs(fire="scan").estimate(w)
    assert one.energy_uj < scan.energy_uj
    assert one.layers[0].cycles < scan.layers[0].cycles
    assert one.layers[2].energy == scan.layers[2].energy  # read-out: same argmax


def test_unknown_fire_is_one_config_error() -> None:
    with pytest.raises(ConfigError, match=r"hardware\.fire must be one of"):
        ttfs(fire="eager")


def test_rate_processor_reads_every_potential_every_step() -> None:
    w = tiny_workload(time_window=T)
    report = RateProcessor(num_pes=2, technology=toy_technology()).estimate(w)
    assert [c.membrane_reads for c in report.layers] == [48 * T, 0, 5 * T]


def test_membrane_reads_and_band_are_recorded_metrics() -> None:
    w = tiny_workload(time_window=T)
    report = TTFSProcessor(num_pes=2).estimate(w)  # 28 nm: spreads stated
    m = Measurement(90.0, 89.0, w)
    result = DesignPointResult({"val": m, "test": m}, {"val": report, "test": report}, {})
    metrics = result.metrics
    assert metrics["membrane_reads_conv1"] == 48
    assert metrics["membrane_reads_linear1"] == 5
    assert metrics["membrane_reads"] == 53
    assert metrics["energy_uj_low"] < metrics["energy_uj"] < metrics["energy_uj_high"]
    assert metrics["test_energy_uj_high"] == report.energy_uj_high
    assert metrics["calibration"] == 1.0


def test_a_model_without_a_band_records_its_point_value_at_both_ends() -> None:
    """An out-of-tree model that states no band (HardwareReport's defaults) still gets
    energy_uj_low / energy_uj_high recorded: the point value."""
    w = tiny_workload()
    bare = HardwareReport(1.5, 0.1, 1.0, 10, 0.5, 1.0, EnergyBreakdown(compute_uj=1.5), ())
    m = Measurement(90.0, 89.0, w)
    metrics = DesignPointResult({"val": m, "test": m}, {"val": bare, "test": bare}, {}).metrics
    assert metrics["energy_uj_low"] == metrics["energy_uj"] == metrics["energy_uj_high"] == 1.5


# ---------------------------------------------------------------------------- band


def test_band_contains_the_point_and_widens_with_a_constant_range() -> None:
    w = tiny_workload()
    tech = load_technology("28nm")
    narrow = dataclasses.replace(tech, spread=(("sram", 0.9, 1.1),))
    wide = dataclasses.replace(tech, spread=(("sram", 0.5, 3.0),))
    none = dataclasses.replace(tech, spread=())
    r_none, r_narrow, r_wide = (
        TTFSProcessor(technology=t).estimate(w) for t in (none, narrow, wide)
    )
    assert r_none.energy_uj_low == r_none.energy_uj == r_none.energy_uj_high
    assert r_narrow.energy_uj == r_wide.energy_uj  # the point does not move
    assert r_narrow.energy_uj_low < r_narrow.energy_uj < r_narrow.energy_uj_high
    assert r_wide.energy_uj_low < r_narrow.energy_uj_low
    assert r_wide.energy_uj_high > r_narrow.energy_uj_high
    # one group alone: the band is exactly that group's share times its range
    sram = r_narrow.energy_parts_uj["sram"]
    assert r_narrow.energy_uj_high - r_narrow.energy_uj == pytest.approx(0.1 * sram)


def test_band_combines_groups_as_independent_errors() -> None:
    w = tiny_workload()
    tech = load_technology("28nm")
    two = dataclasses.replace(tech, spread=(("sram", 1.0, 1.2), ("leakage", 1.0, 2.0)))
    r = TTFSProcessor(technology=two).estimate(w)
    parts = r.energy_parts_uj
    rss = math.hypot(0.2 * parts["sram"], 1.0 * parts["leakage"])
    assert r.energy_uj_high - r.energy_uj == pytest.approx(rss)
    assert r.energy_uj_low == pytest.approx(r.energy_uj)


def test_parts_sum_to_the_energy_for_every_processor() -> None:
    w = tiny_workload()
    for hw in (TTFSProcessor(), RateProcessor(), ANNAccelerator()):
        r = hw.estimate(w)
        assert sum(r.energy_parts_uj.values()) == pytest.approx(r.energy_uj)
        assert r.energy_parts_uj["clock"] > 0 and r.energy_parts_uj["wire"] > 0


def test_overheads_off_prices_datapath_and_memories_only() -> None:
    w = tiny_workload()
    on, off = TTFSProcessor().estimate(w), TTFSProcessor(overheads=False).estimate(w)
    assert off.energy_parts_uj["clock"] == 0 and off.energy_parts_uj["wire"] == 0
    assert off.energy_uj < on.energy_uj
    share = load_technology("28nm").clock_register_share
    p = on.energy_parts_uj
    # the clock network and registers take their stated share of the dynamic on-chip energy
    assert p["clock"] / (p["clock"] + p["logic"] + p["sram"] + p["wire"]) == pytest.approx(share)


def _point(run: str, acc: float, e: float, lo: float, hi: float) -> TrialPoint:
    metrics = {"snn_accuracy": acc, "energy_uj": e, "energy_uj_low": lo, "energy_uj_high": hi}
    return TrialPoint(run, run, None, {}, metrics, True, pareto=True)


def _summary(points: list[TrialPoint]) -> FrontSummary:
    objectives = [Objective("snn_accuracy", "maximize"), Objective("energy_uj", "minimize")]
    return FrontSummary(objectives, [], points, [], None, 0.0, len(points), 0)


def test_overlapping_bands_mark_the_front_point_not_robust() -> None:
    """a: 90 % at 1.0 uJ; b: 92 % at 1.1 uJ. Both on the front; a's band reaches 1.2 and
    b's starts at 0.9, so some constants put b ahead of a on both objectives: a is not
    robust; b (more accurate) is."""
    a, b = _point("a", 90.0, 1.0, 0.8, 1.2), _point("b", 92.0, 1.1, 0.9, 1.3)
    summary = _summary([a, b])
    assert summary.robust() == {"a": False, "b": True}
    assert "robust" in summary.table() and " no" in summary.table()
    assert summary.to_dict()["front"][0]["robust"] in (False, True)


def test_separate_bands_keep_the_front_robust() -> None:
    a, b = _point("a", 90.0, 1.0, 0.95, 1.05), _point("b", 92.0, 2.0, 1.9, 2.1)
    assert _summary([a, b]).robust() == {"a": True, "b": True}


def test_front_image_draws_the_bands(tmp_path) -> None:
    from dse.front.render import draw_front

    a, b = _point("a", 90.0, 1.0, 0.8, 1.2), _point("b", 92.0, 1.1, 0.9, 1.3)
    fig = draw_front(_summary([a, b]))
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert any("band" in label for label in labels)
    assert any("not robust" in label for label in labels)
    import matplotlib.pyplot as plt

    plt.close(fig)


# --------------------------------------------------------------- memory configuration


def test_streamed_weights_cost_dram_even_when_they_fit() -> None:
    w = tiny_workload()
    kept = TTFSProcessor().estimate(w)
    streamed = TTFSProcessor(weight_residency="streamed").estimate(w)
    bits = sum(layer.num_weights * layer.weight_bits for layer in w.layers)
    assert kept.breakdown.dram_uj == 0
    assert streamed.breakdown.dram_uj == pytest.approx(
        bits * load_technology("28nm").dram_pj_per_bit * 1e-6
    )
    assert kept.notes == () and streamed.notes == ()


def test_defaults_that_stream_every_weight_say_so_first() -> None:
    w = tiny_workload()
    small = TTFSProcessor(weight_sram_kb=0.01).estimate(w)  # 82 bits < 570 weight bits
    assert small.notes and "weights streamed from DRAM" in small.notes[0]
    assert "weight_sram_kb=1" in small.notes[0]


def test_calibration_scales_on_chip_energy_only() -> None:
    w = tiny_workload()
    base = TTFSProcessor(weight_sram_kb=0.01).estimate(w)
    cal = TTFSProcessor(weight_sram_kb=0.01, calibration=2.0).estimate(w)
    on_chip = lambda r: r.energy_uj - r.breakdown.dram_uj  # noqa: E731
    assert on_chip(cal) == pytest.approx(2 * on_chip(base))
    assert cal.breakdown.dram_uj == pytest.approx(base.breakdown.dram_uj)
    assert (base.calibration, cal.calibration) == (1.0, 2.0)
    with pytest.raises(ConfigError, match=r"hardware\.calibration"):
        TTFSProcessor(calibration=0.0)


# ---------------------------------------------------------------------- pooling


def _with_pool(op: str):
    w = tiny_workload()
    conv, pool, lin = w.layers
    return dataclasses.replace(w, layers=(conv, dataclasses.replace(pool, pool_op=op), lin))


def test_rate_average_pool_forwards_every_spike_without_comparisons() -> None:
    """Average pooling of rate-coded spikes is a window sum (1/k folded into the next
    layer): each of the 12 input spikes is forwarded as one event; max pooling writes
    only its 6 output spikes but compares counts."""
    hw = RateProcessor(num_pes=2, technology=toy_technology())
    avg = hw.estimate(_with_pool("avg")).layers[1]
    mx = hw.estimate(_with_pool("max")).layers[1]
    # toy: add 0.01 pJ/bit; avg: a 4-bit (log2 12) address add per input spike;
    # max: a 3-bit (log2 (T + 1), T = 4) count comparison per input spike
    assert avg.energy.compute_uj == pytest.approx(12 * 0.01 * 4 * 1e-6)
    assert mx.energy.compute_uj == pytest.approx(12 * 0.01 * 3 * 1e-6)
    assert avg.energy.sram_uj > mx.energy.sram_uj  # 12 forwarded events against 6


def test_ann_average_pool_sums_on_a_wider_adder() -> None:
    hw = ANNAccelerator(num_pes=2, technology=toy_technology())
    avg = hw.estimate(_with_pool("avg")).layers[1]
    mx = hw.estimate(_with_pool("max")).layers[1]
    # 12 outputs x 4 window inputs: 8-bit max comparisons, 10-bit (8 + log2 4) sums
    assert mx.energy.compute_uj == pytest.approx(48 * 0.01 * 8 * 1e-6)
    assert avg.energy.compute_uj == pytest.approx(48 * 0.01 * 10 * 1e-6)


def test_ttfs_refuses_average_pooling() -> None:
    with pytest.raises(ConfigError, match="average pooling is not a TTFS spike operation"):
        ttfs().estimate(_with_pool("avg"))
