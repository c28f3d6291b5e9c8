"""Golden values: each processor on a hand-made workload, expected energies worked out
here from the formulas of docs/HARDWARE.md with the round-number toy technology
(add 0.01 pJ/bit, mul 0.01 pJ/bit^2, SRAM 0.1*sqrt(KB) pJ/bit, DRAM 20 pJ/bit)."""

from __future__ import annotations

import math

import pytest
from hw_helpers import tiny_workload, toy_technology

from plugins.hardware import ANNAccelerator, RateProcessor, TTFSProcessor

ADD = 0.01  # pJ per adder bit (toy technology)
MUL = 0.01  # pJ per multiplier bit^2
DRAM = 20.0  # pJ per DRAM bit
LEAK = 10.0  # mW per mm^2
P = 2  # PEs
CLOCK_MHZ = 100.0


def sram(kb: float) -> float:
    return 0.1 * math.sqrt(kb)  # pJ per bit


def sram_area(kb: float) -> float:
    return kb * 8192 * 0.1 / 0.5 * 1e-6  # mm^2: bitcell 0.1 um^2, efficiency 0.5


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


def test_ttfs_processor_golden() -> None:
    hw = TTFSProcessor(
        num_pes=P,
        clock_mhz=CLOCK_MHZ,
        weight_sram_kb=1.0,  # 8192 bits: all 570 weight bits resident, no DRAM
        membrane_sram_kb=0.0625,  # 512 bits: conv1's 48 x 12-bit potentials spill 64 bits
        spike_sram_kb=0.015625,  # 128 bits
        technology=toy_technology(),
    )
    acc, t = 12, 4
    e_add = ADD * acc
    e_synop = 2 * e_add  # shift (= one adder) + add
    e_w, e_m, e_s = sram(1.0), sram(0.0625), sram(0.015625)
    # conv1: events in = log2(32) + log2(4) = 7 bits, out = ceil(log2 48) + 2 = 8 bits
    conv_int = math.ceil(270 * math.ceil(3 / P) / 3)  # 3 output channels per position
    conv_spill_spikes = 10 * 7 + 12 * 8 - 128
    conv = (
        270 * e_synop + 48 * t * e_add,
        270 * 5 * e_w + (conv_int * 7 + 12 * 8) * e_s + 48 * acc * (1 + t) * e_m,
        ((48 * acc - 512) * (1 + t) + 2 * conv_spill_spikes) * DRAM,
        conv_int + t * math.ceil(48 / P),
    )
    # pool1: earliest spike, 2-bit time comparisons; events in 8 bits, out 4 + 2 bits
    pool_bits = 12 * 8 + 6 * 6
    pool = (12 * ADD * 2, pool_bits * e_s, 2 * (pool_bits - 128) * DRAM, math.ceil(12 / P))
    # linear1 (read-out, no firing): events in = 4 + 2 bits
    lin_int = math.ceil(30 * math.ceil(5 / P) / 5)
    linear = (
        30 * e_synop + 5 * e_add,
        30 * 5 * e_w + lin_int * 6 * e_s + 5 * acc * 2 * e_m,
        0.0,
        lin_int + math.ceil(5 / P),
    )
    pe_area = 2.0 * (10 * acc * 1e-6) * 3  # overhead x adder x (add + shift + compare)
    area = P * pe_area + sram_area(1.0) + sram_area(0.0625) + sram_area(0.015625)
    report = hw.estimate(tiny_workload())
    check(report, {"conv1": conv, "pool1": pool, "linear1": linear}, area)
    assert report.pj_per_synop == pytest.approx(report.energy_uj * 1e6 / 300)
    busy = 270 + 48 * t
    assert report.layers[0].pe_utilization == pytest.approx(busy / (P * conv[3]))


def test_rate_processor_golden() -> None:
    hw = RateProcessor(
        num_pes=P,
        clock_mhz=CLOCK_MHZ,
        weight_sram_kb=1.0,
        membrane_sram_kb=0.0625,
        spike_sram_kb=0.015625,
        technology=toy_technology(),
    )
    acc, t = 12, 4
    e_add = ADD * acc
    e_synop = 2 * e_add  # add + shift to expand the log weight
    e_w, e_m, e_s = sram(1.0), sram(0.0625), sram(0.015625)
    conv_int = math.ceil(270 * math.ceil(3 / P) / 3)
    updates = 48 * t
    conv = (
        270 * e_synop + updates * e_add + updates * e_add + 12 * e_add,  # + compare + reset
        270 * 5 * e_w + (conv_int * 7 + 12 * 8) * e_s + 2 * updates * acc * e_m,
        (2 * t * (48 * acc - 512) + 2 * (10 * 7 + 12 * 8 - 128)) * DRAM,
        conv_int + t * math.ceil(48 / P),
    )
    # pool1: spike-count comparisons of ceil(log2(T + 1)) = 3 bits
    pool_bits = 12 * 8 + 6 * 6
    pool = (12 * ADD * 3, pool_bits * e_s, 2 * (pool_bits - 128) * DRAM, math.ceil(12 / P))
    lin_int = math.ceil(30 * math.ceil(5 / P) / 5)
    linear = (
        30 * e_synop + 5 * t * e_add + 5 * e_add,  # updates + argmax
        30 * 5 * e_w + lin_int * 6 * e_s + 2 * 5 * t * acc * e_m,
        0.0,
        lin_int + t * math.ceil(5 / P),
    )
    pe_area = 2.0 * (10 * acc * 1e-6) * 3  # adder + comparator + shifter (log weights)
    area = P * pe_area + sram_area(1.0) + sram_area(0.0625) + sram_area(0.015625)
    check(hw.estimate(tiny_workload()), {"conv1": conv, "pool1": pool, "linear1": linear}, area)


def test_ann_accelerator_golden() -> None:
    hw = ANNAccelerator(
        num_pes=P,
        clock_mhz=CLOCK_MHZ,
        weight_sram_kb=0.05,  # 409.6 bits: conv1 (270 bits) pinned, linear1 (300) streamed
        activation_sram_kb=0.0625,  # 512 bits
        activation_bits=4,
        technology=toy_technology(),
    )
    e_w, e_a = sram(0.05), sram(0.0625)
    acc_conv = 5 + 4 + math.ceil(math.log2(18))  # 14
    acc_lin = 5 + 4 + math.ceil(math.log2(12))  # 13
    mul = MUL * 5 * 4
    macs = 48 * 18
    conv_cycles = math.ceil(macs * math.ceil(3 / P) / 3)
    conv = (
        macs * (mul + ADD * acc_conv) + 48 * ADD * acc_conv,
        macs * 5 * e_w + (conv_cycles + 48) * 4 * e_a,
        0.0,  # maps (32 + 48) x 4 bits fit
        conv_cycles,
    )
    pool = (48 * ADD * 4, (48 + 12) * 4 * e_a, 0.0, math.ceil(48 / P))
    lin_cycles = math.ceil(60 * math.ceil(5 / P) / 5)
    linear = (
        60 * (mul + ADD * acc_lin) + 5 * ADD * acc_lin,
        (60 * 5 + 300) * e_w + (lin_cycles + 5) * 4 * e_a,
        300 * DRAM,
        lin_cycles,
    )
    pe_area = 2.0 * (10 * 5 * 4 + 10 * acc_conv) * 1e-6  # multiplier + widest accumulator
    area = P * pe_area + sram_area(0.05) + sram_area(0.0625)
    report = hw.estimate(tiny_workload())
    check(report, {"conv1": conv, "pool1": pool, "linear1": linear}, area)
    assert report.pj_per_synop == pytest.approx(report.energy_uj * 1e6 / (macs + 60))
