"""The data-reuse mapping: weight traffic follows the buffers and the loop order."""

from __future__ import annotations

import dataclasses

import pytest

from dse.api.workload import LayerWorkload, Workload
from dse.builtin.hardware import ANNAccelerator, RateProcessor, TTFSProcessor
from dse.builtin.hardware._mapping import map_layer
from dse.builtin.hardware._memory import KB_BITS, weight_fetch_bits
from dse.cli.estimate import assumed_activity, model_workload
from tests.support.hardware import toy_technology

MODELS = (TTFSProcessor, RateProcessor, ANNAccelerator)


def vgg16(size: int = 32, classes: int = 10, rate: float = 0.1) -> Workload:
    static = model_workload("vgg16", size, 3, classes, 5, "log", "ttfs_log", 8, 16)
    return assumed_activity(static, rate)


def big_conv(rate: float = 0.3) -> Workload:
    """Two conv layers of 64 x 64 x 3 x 3 5-bit weights (22.5 KB each) on a 16 x 16 map."""
    layer = LayerWorkload(
        name="conv",
        kind="conv",
        input_shape=(64, 16, 16),
        output_shape=(64, 16, 16),
        kernel=3,
        padding=1,
        fan_in=576,
        fan_out=576.0,
        num_weights=64 * 576,
        weight_bits=5,
        weight_format="log",
        neurons=64 * 256,
        fires=True,
    )
    second = dataclasses.replace(layer, name="conv2")
    static = Workload((layer, second), "ttfs_log", 8, 16, "big_conv")
    return assumed_activity(static, rate, input_rate=rate)


@pytest.mark.parametrize("cls", MODELS)
def test_weight_fetches_fall_as_buffer_grows_until_the_layer_fits(cls) -> None:
    """positions_outer, output tiles forced by small output buffers: DRAM weight traffic
    falls with the weight buffer and is the layer's own size once it fits."""
    w = big_conv()
    layer_bits = 64 * 576 * 5
    small_out = {"activation_sram_kb": 8.0} if cls is ANNAccelerator else {"membrane_sram_kb": 8.0}
    dram = []
    sizes = (2.0, 4.0, 8.0, 16.0, 22.5, 24.0, 45.0)
    layer_dram = []
    for kb in sizes:
        hw = cls(weight_sram_kb=kb, loop_order="positions_outer", technology="28nm", **small_out)
        report = hw.estimate(w)
        # output tiles: 16,384 outputs of 16-bit potentials (8-bit activations) in 8 KB
        # (4 KB for the ANN's output half): 4 tiles
        dram.append(hw.weight_dram_bits(w.layers[0], hw.resident(w), position_tiles=4))
        layer_dram.append(report.layers[0].energy.dram_uj)
    assert all(a >= b for a, b in zip(layer_dram, layer_dram[1:], strict=False))
    assert layer_dram[0] > layer_dram[4]
    grows = [kb * KB_BITS < layer_bits for kb in sizes]
    for (a, b), small in zip(zip(dram, dram[1:], strict=False), grows, strict=False):
        assert (a > b) if small else (a >= b)
    assert dram[-1] == 0.0  # 45 KB holds both layers: resident, no DRAM
    assert dram[-2] == dram[-3] == layer_bits  # the layer fits: fetched once per inference
    assert dram[0] == layer_bits + 3 * (layer_bits - 2 * KB_BITS)  # 4 tiles re-fetch the rest


def test_weight_fetch_rule() -> None:
    for order in ("weights_outer", "positions_outer"):
        for cap in (1.0, 100.0, 999.0, 1000.0, 5000.0):
            for tiles in (1, 2, 7):
                fetched = weight_fetch_bits(1000.0, cap, order, tiles)
                assert fetched >= 1000.0  # never fewer than the layer has
                if order == "weights_outer" or cap >= 1000.0 or tiles == 1:
                    assert fetched == 1000.0  # exactly once
    # positions_outer: the part that does not fit is fetched again for every output tile
    assert weight_fetch_bits(1000.0, 400.0, "positions_outer", 3) == 1000.0 + 2 * 600.0


@pytest.mark.parametrize("cls", MODELS)
def test_dram_is_zero_when_all_weights_fit(cls) -> None:
    w = vgg16()
    total_kb = w.total_weights * 5 / KB_BITS
    roomy = (
        cls(weight_sram_kb=total_kb * 1.01, membrane_sram_kb=512, spike_sram_kb=512)
        if (cls is not ANNAccelerator)
        else cls(weight_sram_kb=total_kb * 1.01, activation_sram_kb=1024)
    )
    report = roomy.estimate(w)
    assert report.breakdown.dram_uj == 0.0
    assert all(cost.energy.dram_uj == 0.0 for cost in report.layers)
    tight = cls(weight_sram_kb=total_kb * 0.99)
    assert tight.estimate(w).breakdown.dram_uj > 0  # one bit short: every weight streams


@pytest.mark.parametrize("cls", MODELS)
def test_streamed_network_fetches_each_weight_once_per_inference(cls) -> None:
    w = vgg16()
    hw = cls(weight_sram_kb=2048, technology=toy_technology(), loop_order="weights_outer")
    per_bit = 20.0  # toy DRAM pJ/bit
    weights = sum(layer.num_weights * layer.weight_bits for layer in w.layers)
    report = hw.estimate(w)
    dram_pj = sum(
        hw.weight_dram_bits(layer, False, 1) for layer in w.layers if layer.kind != "pool"
    )
    assert dram_pj == weights
    assert report.breakdown.dram_uj >= weights * per_bit * 1e-6 * (1 - 1e-12)


def test_dense_mapping_never_reads_fewer_weights_than_the_layer_has() -> None:
    for layer in vgg16().layers:
        if layer.kind == "pool":
            continue
        for pes in (1, 7, 16, 64, 256, 1024):
            for x in (1, 2, 16, 64):
                m = map_layer(layer, pes, x)
                assert m.rows * m.cols <= pes
                assert m.dense_weight_reads >= layer.num_weights
                assert m.dense_input_reads >= layer.connections / m.channels
                assert m.dense_steps * min(pes, m.rows * m.cols) >= layer.connections


def test_weight_reuse_grows_with_position_columns() -> None:
    """ANN: SRAM weight reads K * fan_in * ceil(Q / x) fall as columns share each read."""
    w = vgg16()
    sram = [ANNAccelerator(position_parallel=x).estimate(w).breakdown.sram_uj for x in (1, 4, 16)]
    assert sram[0] > sram[1] > sram[2]


def test_spiking_weight_reads_between_synops_over_x_and_synops() -> None:
    """Event driven: a step is skipped when none of its x inputs spiked, so weight reads lie
    between synops / x (perfect sharing) and synops (no sharing)."""
    for rate in (0.01, 0.1, 0.5, 1.0):
        for layer in vgg16(rate=rate).layers:
            if layer.kind == "pool" or layer.synops == 0:
                continue
            m = map_layer(layer, 256, 16)
            rho = layer.synops / layer.connections
            reads = m.dense_weight_reads * m.step_occupancy(rho)
            assert layer.synops / m.cols * (1 - 1e-9) <= reads
            assert reads <= layer.synops * (1 + 1e-9) * m.position_groups * m.cols / m.positions


@pytest.mark.parametrize("cls", (TTFSProcessor, RateProcessor))
def test_no_spikes_no_weight_reads(cls) -> None:
    w = assumed_activity(vgg16(), 0.0, 0.0)
    hw = cls(weight_sram_kb=16384, membrane_sram_kb=512, spike_sram_kb=512)
    full = cls(weight_sram_kb=16384, membrane_sram_kb=512, spike_sram_kb=512).estimate(vgg16())
    idle = hw.estimate(w)
    assert idle.breakdown.compute_uj < full.breakdown.compute_uj
    assert idle.breakdown.sram_uj < full.breakdown.sram_uj


@pytest.mark.parametrize("kwargs", [{"position_parallel": 0}, {"loop_order": "inner"}])
def test_invalid_mapping_keys(kwargs) -> None:
    from dse.api.errors import ConfigError

    with pytest.raises(ConfigError, match="hardware."):
        TTFSProcessor(**kwargs)
