"""Golden values: each processor on a hand-made workload, expected energies worked out
here from the formulas of docs/HARDWARE.md with the round-number toy technology
(add 0.01 pJ/bit, mul 0.01 pJ/bit^2, SRAM read 0.1*sqrt(KB) and write 0.2*sqrt(KB) pJ/bit,
SRAM area 0.001 mm^2/KB, DRAM 20 pJ/bit).

Changes with the data-reuse mapping (issue 13), each for a stated reason:
* weight SRAM reads: one per array step and row (broadcast along the columns), scaled by
  the step occupancy 1 - (1 - rho)^x, instead of one per synaptic operation;
* spike events: read once per row group (synops * ceil(K / c) / K), not once per cycle;
* integration cycles: dense steps x occupancy (steps without a spike are skipped);
* SRAM reads and writes priced separately (CACTI gives both); SRAM area from the table;
* ann: weight reads K * fan_in * ceil(Q / x), activation reads Q * fan_in * ceil(K / c);
  a network that does not fit the weight SRAM fetches every layer once (weights_outer),
  where the old model pinned conv1 and streamed only linear1.

Issue 22: ttfs_processor's fire is checked in both models: ``scan`` (every potential read
and compared at each of the T steps, the model before) and ``leading_one`` (the default:
each potential read once, a leading-one detect per neuron, a bin-pointer increment of
ceil(log2 N) bits per spike, one element-wise pass). The toy technology states no wires,
clock share or spreads, so the golden values are the datapath and memories alone."""

from __future__ import annotations

import math

import pytest

from dse.builtin.hardware import ANNAccelerator, RateProcessor, TTFSProcessor
from tests.support.hardware import tiny_workload, toy_technology

ADD = 0.01  # pJ per adder bit (toy technology)
MUL = 0.01  # pJ per multiplier bit^2
DRAM = 20.0  # pJ per DRAM bit
LEAK = 10.0  # mW per mm^2
P = 2  # PEs
CLOCK_MHZ = 100.0


def sram(kb: float) -> float:
    return 0.1 * math.sqrt(kb)  # pJ per bit read


def sram_w(kb: float) -> float:
    return 0.2 * math.sqrt(kb)  # pJ per bit written


def sram_area(kb: float) -> float:
    return 0.001 * kb  # mm^2


def check(report, expected: dict[str, tuple[float, float, float, int]], area: float) -> None:
    """expected: layer -> (compute pJ, sram pJ, dram pJ, cycles)."""
    leak_mw = LEAK * area
    assert report.area_mm2 == pytest.approx(area)
    for cost in report.layers:
        compute, sram_pj, dram, cycles = expected[cost.name]
        assert cost.cycles == cycles, cost.name
        latency_ms = cycles / (CLOCK_MHZ * 1e3)
        assert cost.latency_ms == pytest.approx(latency_ms)
        assert cost.energy.compute_uj == pytest.approx(compute * 1e-6), cost.name
        assert cost.energy.sram_uj == pytest.approx(sram_pj * 1e-6), cost.name
        assert cost.energy.dram_uj == pytest.approx(dram * 1e-6), cost.name
        assert cost.energy.leakage_uj == pytest.approx(leak_mw * latency_ms), cost.name
    total_pj = sum(c + s + d for c, s, d, _ in expected.values())
    total_cycles = sum(e[3] for e in expected.values())
    total_uj = total_pj * 1e-6 + leak_mw * total_cycles / (CLOCK_MHZ * 1e3)
    assert report.energy_uj == pytest.approx(total_uj)
    assert report.breakdown.total_uj == pytest.approx(total_uj)
    assert report.cycles == total_cycles
    assert report.latency_ms == pytest.approx(total_cycles / (CLOCK_MHZ * 1e3))


@pytest.mark.parametrize("fire", ["scan", "leading_one"])
def test_ttfs_processor_golden(fire: str) -> None:
    hw = TTFSProcessor(
        fire=fire,
        num_pes=P,
        clock_mhz=CLOCK_MHZ,
        weight_sram_kb=1.0,  # 8192 bits: all 570 weight bits resident, no DRAM
        membrane_sram_kb=0.0625,  # 512 bits: conv1's 48 x 12-bit potentials spill 64 bits
        spike_sram_kb=0.015625,  # 128 bits
        position_parallel=2,  # x = 2 columns, c = 1 row
        technology=toy_technology(),
    )
    acc, t = 12, 4
    e_add = ADD * acc
    e_synop = 2 * e_add  # shift (= one adder) + add
    e_w = sram(1.0)
    e_mr, e_mw = sram(0.0625), sram_w(0.0625)
    e_sr, e_sw = sram(0.015625), sram_w(0.015625)
    # conv1: K = 3 channels, Q = 16 positions, fan-in 18; x = 2, c = 1
    # dense steps = ceil(3/1) * ceil(16/2) * 18 = 432; rho = 270 / (48 * 18)
    occ = 1 - (1 - 270 / 864) ** 2
    conv_steps = 432 * occ  # = weight reads (one row)
    conv_spill_spikes = 10 * 7 + 12 * 8 - 128
    # scan: T reads and compares per potential; leading one: one read and one detect per
    # potential, plus a 6-bit (ceil(log2 48)) bin-pointer increment per output spike
    reads = t if fire == "scan" else 1
    fire_pj = 48 * t * e_add if fire == "scan" else 48 * e_add + 12 * ADD * 6
    conv = (
        270 * e_synop + fire_pj,
        conv_steps * 5 * e_w
        + 270 * 7 * e_sr  # each event read once (c = 1 row per group, 3 groups / 3 channels)
        + 12 * 8 * e_sw
        + 48 * acc * e_mw
        + 48 * acc * reads * e_mr,
        ((48 * acc - 512) * (1 + reads) + 2 * conv_spill_spikes) * DRAM,
        math.ceil(conv_steps + reads * math.ceil(48 / P)),
    )
    # pool1: earliest spike, 2-bit time comparisons; events in 8 bits, out 4 + 2 bits
    pool = (
        12 * ADD * 2,
        12 * 8 * e_sr + 6 * 6 * e_sw,
        2 * (12 * 8 + 6 * 6 - 128) * DRAM,
        math.ceil(12 / P),
    )
    # linear1 (read-out, no firing): x = 1, c = 2, 3 row groups, rho = 30 / 60
    lin_steps = 3 * 12 * 0.5
    linear = (
        30 * e_synop + 5 * e_add,
        30 * 5 * e_w + 30 * 3 / 5 * 6 * e_sr + 5 * acc * e_mw + 5 * acc * e_mr,
        0.0,
        math.ceil(lin_steps + math.ceil(5 / P)),
    )
    pe_area = 2.0 * (10 * acc * 1e-6) * 3  # overhead x adder x (add + shift + compare)
    area = P * pe_area + sram_area(1.0) + sram_area(0.0625) + sram_area(0.015625)
    report = hw.estimate(tiny_workload())
    check(report, {"conv1": conv, "pool1": pool, "linear1": linear}, area)
    assert report.pj_per_synop == pytest.approx(report.energy_uj * 1e6 / 300)
    busy = 270 + 48 * reads
    assert report.layers[0].pe_utilization == pytest.approx(busy / (P * conv[3]))
    assert [c.membrane_reads for c in report.layers] == [48 * reads, 0, 5]


def test_rate_processor_golden() -> None:
    hw = RateProcessor(
        num_pes=P,
        clock_mhz=CLOCK_MHZ,
        weight_sram_kb=1.0,
        membrane_sram_kb=0.0625,
        spike_sram_kb=0.015625,
        position_parallel=2,
        technology=toy_technology(),
    )
    acc, t = 12, 4
    e_add = ADD * acc
    e_synop = 2 * e_add  # add + shift to expand the log weight
    e_w = sram(1.0)
    e_m = sram(0.0625) + sram_w(0.0625)  # read-modify-write
    e_sr, e_sw = sram(0.015625), sram_w(0.015625)
    # one pass per step at rho = 270 / (864 * 4)
    conv_steps = t * 432 * (1 - (1 - 270 / (864 * t)) ** 2)
    updates = 48 * t
    conv = (
        270 * e_synop + updates * e_add + updates * e_add + 12 * e_add,  # + compare + reset
        conv_steps * 5 * e_w + 270 * 7 * e_sr + 12 * 8 * e_sw + updates * acc * e_m,
        (2 * t * (48 * acc - 512) + 2 * (10 * 7 + 12 * 8 - 128)) * DRAM,
        math.ceil(conv_steps + t * math.ceil(48 / P)),
    )
    # pool1: spike-count comparisons of ceil(log2(T + 1)) = 3 bits
    pool = (
        12 * ADD * 3,
        12 * 8 * e_sr + 6 * 6 * e_sw,
        2 * (12 * 8 + 6 * 6 - 128) * DRAM,
        math.ceil(12 / P),
    )
    lin_steps = t * 36 * (30 / (60 * t))  # x = 1: occupancy = rho
    linear = (
        30 * e_synop + 5 * t * e_add + 5 * e_add,  # updates + argmax
        30 * 5 * e_w + 30 * 3 / 5 * 6 * e_sr + 5 * t * acc * e_m,
        0.0,
        math.ceil(lin_steps + t * math.ceil(5 / P)),
    )
    pe_area = 2.0 * (10 * acc * 1e-6) * 3  # adder + comparator + shifter (log weights)
    area = P * pe_area + sram_area(1.0) + sram_area(0.0625) + sram_area(0.015625)
    check(hw.estimate(tiny_workload()), {"conv1": conv, "pool1": pool, "linear1": linear}, area)


def test_ann_accelerator_golden() -> None:
    hw = ANNAccelerator(
        num_pes=P,
        clock_mhz=CLOCK_MHZ,
        weight_sram_kb=0.05,  # 409.6 bits < 570: not resident, each layer fetched once
        activation_sram_kb=0.0625,  # 512 bits
        activation_bits=4,
        position_parallel=2,
        technology=toy_technology(),
    )
    e_wr, e_ww = sram(0.05), sram_w(0.05)
    e_ar, e_aw = sram(0.0625), sram_w(0.0625)
    acc_conv = 5 + 4 + math.ceil(math.log2(18))  # 14
    acc_lin = 5 + 4 + math.ceil(math.log2(12))  # 13
    mul = MUL * 5 * 4
    macs = 48 * 18
    conv_cycles = 3 * 8 * 18  # ceil(3/1) channel groups x ceil(16/2) position groups x fan-in
    conv = (
        macs * (mul + ADD * acc_conv) + 48 * ADD * acc_conv,
        3 * 18 * 8 * 5 * e_wr  # K * fan_in * ceil(Q / x) weight reads
        + 270 * e_ww  # fill from DRAM
        + 16 * 18 * 3 * 4 * e_ar  # Q * fan_in * ceil(K / c) activation reads
        + 48 * 4 * e_aw,
        270 * DRAM,  # maps (32 + 48) x 4 bits fit
        conv_cycles,
    )
    pool = (48 * ADD * 4, 48 * 4 * e_ar + 12 * 4 * e_aw, 0.0, math.ceil(48 / P))
    lin_cycles = 3 * 1 * 12  # x = 1, c = 2: 3 channel groups
    linear = (
        60 * (mul + ADD * acc_lin) + 5 * ADD * acc_lin,
        60 * 5 * e_wr + 300 * e_ww + 12 * 3 * 4 * e_ar + 5 * 4 * e_aw,
        300 * DRAM,
        lin_cycles,
    )
    pe_area = 2.0 * (10 * 5 * 4 + 10 * acc_conv) * 1e-6  # multiplier + widest accumulator
    area = P * pe_area + sram_area(0.05) + sram_area(0.0625)
    report = hw.estimate(tiny_workload())
    check(report, {"conv1": conv, "pool1": pool, "linear1": linear}, area)
    assert report.pj_per_synop == pytest.approx(report.energy_uj * 1e6 / (macs + 60))
