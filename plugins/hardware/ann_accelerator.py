"""Dense ANN baseline: a MAC array that evaluates every connection of every layer.

Same array and mapping as the SNN processors (_mapping.py): output stationary, rows take
output channels, columns output positions; per step each row reads one weight and
broadcasts it along its columns, each column reads one activation and broadcasts it down
its rows, with no step skipped (dense). Every connection is a multiply-accumulate
(the workload's ``connections``, whatever the activity): multiplier energy grows with
weight bits x activation bits, the accumulator is exact
(weight bits + activation bits + ceil(log2 fan-in)). Activations (``activation_bits``)
live in an activation SRAM holding a layer's input and output maps; what does not fit
spills to DRAM. The baseline does not exploit log weights (a designer would; that is the
SNN processor's point). Cf. Dampfhoffer et al., "Are SNNs really more energy-efficient
than ANNs?", IEEE TNNLS 2023. Formulas: docs/HARDWARE.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from dse.api.interfaces import HardwareReport, LayerCost
from dse.api.workload import LayerWorkload, Workload
from dse.builtin.hardware._common import (
    Processor,
    check_positive,
    check_positive_int,
    check_workload,
)
from dse.builtin.hardware._mapping import elementwise_cycles, map_layer
from dse.builtin.hardware._memory import KB_BITS, spill_bits, tiles
from dse.builtin.hardware.technology import Technology


def mac_accumulator_bits(layer: LayerWorkload, activation_bits: int) -> int:
    """Exact accumulator width of a dense dot product of ``fan_in`` terms."""
    return layer.weight_bits + activation_bits + math.ceil(math.log2(max(layer.fan_in, 2)))


class ANNAccelerator(Processor):
    """Dense ANN MAC-array baseline: every connection is a multiply-accumulate."""

    def __init__(
        self,
        num_pes: int = 256,
        clock_mhz: float = 200.0,
        weight_sram_kb: float = 256.0,
        activation_sram_kb: float = 192.0,
        activation_bits: int = 8,
        technology: str | Mapping | Technology = "28nm",
        position_parallel: int = 16,
        loop_order: str = "weights_outer",
        dram_bits_per_cycle: float = 64.0,
        weight_residency: str = "auto",
        overheads: bool = True,
        calibration: float | None = None,
    ) -> None:
        super().__init__(
            num_pes,
            clock_mhz,
            weight_sram_kb,
            technology,
            position_parallel,
            loop_order,
            dram_bits_per_cycle,
            weight_residency,
            overheads,
            calibration,
        )
        self.activation_sram_kb = check_positive(activation_sram_kb, "hardware.activation_sram_kb")
        self.activation_bits = check_positive_int(activation_bits, "hardware.activation_bits")
        self.e_act_read = self.tech.sram_read_pj_per_bit(self.activation_sram_kb)
        self.e_act_write = self.tech.sram_write_pj_per_bit(self.activation_sram_kb)
        self.e_read["activation_sram"] = self.e_act_read
        self.e_write["activation_sram"] = self.e_act_write

    def sram_kb(self) -> dict[str, float]:
        return {"weight_sram": self.weight_sram_kb, "activation_sram": self.activation_sram_kb}

    def pe_area_mm2(self, weight_bits: int, acc_bits: int) -> float:
        """Multiplier + accumulator adder, times the PE overhead."""
        tech = self.tech
        datapath = tech.mul_area_mm2(weight_bits, self.activation_bits) + tech.add_area_mm2(
            acc_bits
        )
        return tech.pe_overhead * datapath

    def estimate(self, workload: Workload) -> HardwareReport:
        check_workload(workload)
        tech, p, a_bits = self.tech, self.num_pes, self.activation_bits
        e_dram = tech.dram_pj_per_bit
        act_cap = self.activation_sram_kb * KB_BITS
        weighted = [layer for layer in workload.layers if layer.kind != "pool"]
        # the PE array is sized for the widest layer it runs
        max_w = max((layer.weight_bits for layer in weighted), default=1)
        max_acc = max((mac_accumulator_bits(layer, a_bits) for layer in weighted), default=1)
        area = self.area(self.pe_area_mm2(max_w, max_acc))
        leak = self.leakage_mw(area)
        resident = self.resident(workload)
        dist = self.distances_mm(area)
        parts: dict[str, float] = {}
        costs: list[LayerCost] = []
        macs_total = 0.0
        for layer in workload.layers:
            n = layer.neurons
            in_bits, out_bits = layer.input_neurons * a_bits, n * a_bits
            act_spill = spill_bits(in_bits + out_bits, act_cap)
            if layer.kind == "pool":
                compares = n * layer.fan_in  # max of each window, or its sum (average)
                # average: a window sum (the 1/k folds into the next layer's weights or its
                # requantisation), on an adder wide enough for the sum
                widen = math.ceil(math.log2(max(layer.fan_in, 2))) if layer.pool_op == "avg" else 0
                compute = compares * tech.add_pj(a_bits + widen)
                sram, wire = self.movement(
                    {"activation_sram": compares * a_bits}, {"activation_sram": out_bits}, dist
                )
                cycles = elementwise_cycles(compares, p)
                busy = compares
                dram = 2 * act_spill * e_dram
            else:
                macs = layer.connections
                macs_total += macs
                acc = mac_accumulator_bits(layer, a_bits)
                m = map_layer(layer, p, self.position_parallel)
                cycles = m.dense_steps
                # output tiles: half the activation SRAM holds a tile of outputs (stated)
                w_dram = self.weight_dram_bits(layer, resident, tiles(out_bits, act_cap / 2))
                compute = (
                    macs * (tech.mul_pj(layer.weight_bits, a_bits) + tech.add_pj(acc))
                    + n * tech.add_pj(acc)  # ReLU / requantisation: one comparison per output
                )
                sram, wire = self.movement(
                    {
                        "weight_sram": m.dense_weight_reads * layer.weight_bits,
                        "activation_sram": m.dense_input_reads * a_bits,
                    },
                    {"weight_sram": w_dram, "activation_sram": out_bits},  # DRAM fills; outputs
                    dist,
                )
                busy = macs
                dram = (w_dram + 2 * act_spill) * e_dram
            costs.append(
                self.layer_cost(layer, compute, sram, dram, cycles, busy, leak, parts, wire)
            )
        return self.report(costs, area, macs_total, parts, workload)
