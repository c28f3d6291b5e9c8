"""Hand-made workloads and a round-number technology for the hardware tests."""

from __future__ import annotations

from dse.api.workload import LayerWorkload, Workload
from dse.builtin.hardware.technology import Technology


def toy_technology(**changes: float) -> Technology:
    """Round numbers so expected energies are easy to work out by hand:
    add 0.01 pJ/bit, mul 0.01 pJ/bit^2, SRAM read 0.1 * sqrt(KB) and write 0.2 * sqrt(KB)
    pJ/bit, SRAM area 0.001 mm^2 per KB, node = reference node."""
    params = dict(
        name="toy",
        node_nm=28.0,
        vdd_v=0.9,
        ref_node_nm=28.0,
        ref_vdd_v=0.9,
        ref_add_pj=((8.0, 0.08), (16.0, 0.16)),  # a0 = 0, a1 = 0.01 pJ/bit
        ref_mul_pj=((4.0, 0.16), (8.0, 0.64)),  # m0 = 0, m1 = 0.01 pJ/bit^2
        ref_add_area_um2=((8.0, 80.0), (16.0, 160.0)),  # 10 um^2/bit
        ref_mul_area_um2=((4.0, 160.0), (8.0, 640.0)),  # 10 um^2/bit^2
        shift_rel_add=1.0,
        # 10-bit accesses: read 0.1 sqrt(KB), write 0.2 sqrt(KB) pJ/bit, 0.001 mm^2/KB
        sram_table=((1.0, 1.0, 2.0, 0.001), (4.0, 2.0, 4.0, 0.004)),
        sram_access_bits=10.0,
        dram_pj_per_bit=20.0,
        pe_overhead=2.0,
        leakage_mw_per_mm2=10.0,
    )
    params.update(changes)
    return Technology(**params)


def tiny_workload(
    scale: float = 1.0, weight_bits: int = 5, time_window: int = 4, weight_format: str = "log"
) -> Workload:
    """conv (2x4x4 -> 3x4x4, 3x3, pad 1) -> max pool 2x2 -> linear 12 -> 5 (read-out).

    ``scale`` multiplies every activity figure (spikes and synops)."""
    conv = LayerWorkload(
        name="conv1",
        kind="conv",
        input_shape=(2, 4, 4),
        output_shape=(3, 4, 4),
        kernel=3,
        stride=1,
        padding=1,
        fan_in=18,
        fan_out=48 * 18 / 32,
        num_weights=54,
        weight_bits=weight_bits,
        weight_format=weight_format,
        neurons=48,
        input_spikes=10 * scale,
        output_spikes=12 * scale,
        synops=270 * scale,
        time_steps=time_window,
    )
    pool = LayerWorkload(
        name="pool1",
        kind="pool",
        input_shape=(3, 4, 4),
        output_shape=(3, 2, 2),
        kernel=2,
        stride=2,
        fan_in=4,
        fan_out=1.0,
        neurons=12,
        input_spikes=12 * scale,
        output_spikes=6 * scale,
        time_steps=time_window,
    )
    linear = LayerWorkload(
        name="linear1",
        kind="linear",
        input_shape=(12,),
        output_shape=(5,),
        fan_in=12,
        fan_out=5.0,
        num_weights=60,
        weight_bits=weight_bits,
        weight_format=weight_format,
        neurons=5,
        fires=False,
        input_spikes=6 * scale,
        synops=30 * scale,
        time_steps=time_window,
    )
    return Workload(
        layers=(conv, pool, linear),
        coding="ttfs_log",
        time_window=time_window,
        accumulator_bits=12,
        network="tiny",
        source="hand-made",
    )
