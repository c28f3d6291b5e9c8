"""Properties of the hardware models on hand-made workloads."""

from __future__ import annotations

import dataclasses

import pytest

from dse.api.errors import ConfigError
from dse.builtin.hardware import ANNAccelerator, RateProcessor, TTFSProcessor, load_technology
from tests.support.hardware import tiny_workload, toy_technology

MODELS = (TTFSProcessor, RateProcessor, ANNAccelerator)


@pytest.mark.parametrize("cls", MODELS)
def test_energy_grows_with_weight_bits(cls) -> None:
    hw = cls()
    energies = [hw.estimate(tiny_workload(weight_bits=b)).energy_uj for b in (2, 4, 5, 8, 16)]
    assert all(a < b for a, b in zip(energies, energies[1:], strict=False))


@pytest.mark.parametrize("cls", (TTFSProcessor, RateProcessor))
def test_energy_grows_with_activity(cls) -> None:
    hw = cls()
    energies = [hw.estimate(tiny_workload(scale=s)).energy_uj for s in (0.0, 0.5, 1.0, 2.0)]
    assert all(a < b for a, b in zip(energies, energies[1:], strict=False))


def test_ann_ignores_activity() -> None:
    hw = ANNAccelerator()
    low, high = (hw.estimate(tiny_workload(scale=s)).energy_uj for s in (0.1, 2.0))
    assert low == pytest.approx(high)  # dense: every connection is a MAC


@pytest.mark.parametrize("cls", MODELS)
def test_latency_falls_with_pes_until_utilisation_limits(cls) -> None:
    w = tiny_workload()
    latencies = [cls(num_pes=p).estimate(w).latency_ms for p in (1, 2, 4, 8, 16, 48, 64, 256)]
    assert all(a >= b for a, b in zip(latencies, latencies[1:], strict=False))
    # real speed-up at first (sublinear for spiking layers: a step with x position columns
    # is skipped only when none of its x inputs spiked)
    assert latencies[0] > 2 * latencies[4]
    # beyond the widest layer (48 neurons: 3 channels x 16 positions, 48 pool compares)
    # nothing is left to parallelise
    assert latencies[-1] == pytest.approx(latencies[-3])
    util = [cls(num_pes=p).estimate(w).pe_utilization for p in (1, 64, 256)]
    assert util[0] == pytest.approx(1.0) and util[1] > util[2]


def test_utilisation_of_narrow_layer_is_units_over_pes() -> None:
    # linear1 has 5 output neurons: with 8 PEs its integration keeps 5 of 8 busy
    w = tiny_workload()
    linear = dataclasses.replace(w.layers[2], fires=False)
    only = dataclasses.replace(w, layers=(linear,))
    cost = ANNAccelerator(num_pes=8).estimate(only).layers[0]
    assert cost.pe_utilization == pytest.approx(5 / 8)


@pytest.mark.parametrize("cls", MODELS)
def test_leakage_energy_scales_with_latency(cls) -> None:
    w = tiny_workload()
    fast, slow = cls(clock_mhz=200.0).estimate(w), cls(clock_mhz=50.0).estimate(w)
    assert slow.latency_ms == pytest.approx(4 * fast.latency_ms)
    assert slow.breakdown.leakage_uj == pytest.approx(4 * fast.breakdown.leakage_uj)
    # dynamic energy does not depend on the clock
    for key in ("compute_uj", "sram_uj", "dram_uj"):
        assert getattr(slow.breakdown, key) == pytest.approx(getattr(fast.breakdown, key))


@pytest.mark.parametrize("cls", MODELS)
def test_area_grows_with_pes_and_sram(cls) -> None:
    w = tiny_workload()
    a = [cls(num_pes=p).estimate(w).area_mm2 for p in (16, 64, 256)]
    assert a[0] < a[1] < a[2]
    b = [cls(weight_sram_kb=kb).estimate(w).area_mm2 for kb in (16, 64, 256)]
    assert b[0] < b[1] < b[2]
    report = cls().estimate(w)
    assert report.area_mm2 == pytest.approx(sum(report.area_breakdown_mm2.values()))


@pytest.mark.parametrize("cls", MODELS)
def test_layer_exceeding_weight_sram_pays_dram(cls) -> None:
    w = tiny_workload()  # conv1 54 x 5 = 270 bits, linear1 60 x 5 = 300 bits
    roomy = cls(weight_sram_kb=1.0).estimate(w)
    assert roomy.breakdown.dram_uj == 0.0
    tight = cls(weight_sram_kb=0.03).estimate(w)  # 245.8 bits: neither layer fits
    conv, linear = tight.layers[0], tight.layers[2]
    assert conv.energy.dram_uj > 0 and linear.energy.dram_uj > 0
    assert tight.energy_uj > roomy.energy_uj
    per_bit = load_technology("28nm").dram_pj_per_bit
    weight_dram = tight.breakdown.dram_uj - cls(weight_sram_kb=1.0).estimate(w).breakdown.dram_uj
    assert weight_dram == pytest.approx(570 * per_bit * 1e-6)


def test_ttfs_cheaper_than_rate_on_same_workload() -> None:
    rows = []
    for t in (4, 8, 16):
        w = tiny_workload(time_window=t)
        ttfs, rate, ann = (cls().estimate(w).energy_uj for cls in MODELS)
        rows.append((t, ttfs, rate, ann))
        assert ttfs < rate
    print("\nT   ttfs uJ    rate uJ    ann uJ   ann/ttfs")
    for t, ttfs, rate, ann in rows:
        print(f"{t:<3} {ttfs:.5f}  {rate:.5f}  {ann:.5f}  {ann / ttfs:.2f}x")


def test_technology_changes_energy_and_area() -> None:
    w = tiny_workload()
    e28 = TTFSProcessor(technology="28nm").estimate(w)
    e45 = TTFSProcessor(technology="45nm").estimate(w)
    assert e45.energy_uj > e28.energy_uj and e45.area_mm2 > e28.area_mm2


def test_technology_accepts_mapping_and_object() -> None:
    t = toy_technology()
    fields = {f.name: getattr(t, f.name) for f in dataclasses.fields(t) if f.init}
    a = TTFSProcessor(technology=t).estimate(tiny_workload())
    b = TTFSProcessor(technology=fields).estimate(tiny_workload())
    assert a.energy_uj == pytest.approx(b.energy_uj)


@pytest.mark.parametrize(
    ("cls", "kwargs", "message"),
    [
        (TTFSProcessor, {"num_pes": 0}, "hardware.num_pes must be >= 1 (got 0)"),
        (RateProcessor, {"num_pes": 2.5}, "hardware.num_pes must be an integer"),
        (TTFSProcessor, {"clock_mhz": -1.0}, "hardware.clock_mhz must be > 0 (got -1.0)"),
        (TTFSProcessor, {"weight_sram_kb": -4}, "hardware.weight_sram_kb must be > 0"),
        (TTFSProcessor, {"membrane_sram_kb": 0}, "hardware.membrane_sram_kb must be > 0"),
        (RateProcessor, {"spike_sram_kb": -1}, "hardware.spike_sram_kb must be > 0"),
        (ANNAccelerator, {"activation_bits": 0}, "hardware.activation_bits must be >= 1"),
        (ANNAccelerator, {"activation_sram_kb": -2}, "hardware.activation_sram_kb must be > 0"),
        (TTFSProcessor, {"technology": "22nm"}, "hardware.technology must be one of"),
        (TTFSProcessor, {"technology": 28}, "hardware.technology must be a node name"),
    ],
)
def test_invalid_parameters(cls, kwargs, message) -> None:
    with pytest.raises(ConfigError) as err:
        cls(**kwargs)
    assert message in str(err.value)


def test_invalid_workload_bits() -> None:
    w = tiny_workload(weight_bits=0)
    with pytest.raises(ConfigError, match=r"workload.conv1.weight_bits must be >= 1 \(got 0\)"):
        TTFSProcessor().estimate(w)
    w = dataclasses.replace(tiny_workload(), accumulator_bits=0)
    with pytest.raises(ConfigError, match="workload.accumulator_bits must be >= 1"):
        RateProcessor().estimate(w)
