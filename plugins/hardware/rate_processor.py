"""Rate-coded SNN processor: accumulate-only PEs, T time steps, membrane RMW per step.

The same array, mapping and buffers as the TTFS processor (docs/HARDWARE.md), with
integrate-and-fire neurons: an input spike carries 1, so a synaptic operation adds the
weight (plus a shift to expand a log weight +-2^-e). Each time step is one event-driven
pass of the output-stationary mapping over that step's input spikes (_mapping.py: weights
read once per row and broadcast along the columns). Every time step, every neuron's
potential is read from the membrane SRAM, updated with that step's input, compared with
the threshold and written back; a neuron that fires subtracts the threshold (one add)
and writes a spike event. The last layer integrates the same way without firing, then
one comparison per neuron picks the class.

Pooling. Max pooling of spike counts: one count comparison per input spike. Average
pooling (``pool_op="avg"``): with rate coding the average of a window's spikes over the
window is a window *sum* whose 1/k is folded into the next layer's weights (conversion
does this, as rate-coded chips and conversion libraries do), so the pool does no
arithmetic on values: each input spike is forwarded as one event at its window's output
address (the address arithmetic is one address-wide add), and the next layer's potentials
do the summing (its synaptic operations, measured, pay for it).
"""

from __future__ import annotations

import math

from dse.api.interfaces import HardwareReport, LayerCost
from dse.api.workload import Workload
from dse.builtin.hardware._common import SpikingProcessor, check_workload
from dse.builtin.hardware._mapping import elementwise_cycles, map_layer, spike_occupancy
from dse.builtin.hardware._memory import KB_BITS, event_bits, spill_bits, tiles


class RateProcessor(SpikingProcessor):
    """Rate-coded SNN processor: accumulate-only PEs, membrane read-modify-write per step."""

    def pe_area_mm2(self, acc_bits: int, log_weights: bool) -> float:
        """Accumulator adder + threshold comparator (+ shifter for log weights), x overhead."""
        tech = self.tech
        shifter = tech.shift_rel_add if log_weights else 0.0
        return tech.pe_overhead * tech.add_area_mm2(acc_bits) * (2 + shifter)

    def estimate(self, workload: Workload) -> HardwareReport:
        check_workload(workload)
        tech, p = self.tech, self.num_pes
        acc = workload.accumulator_bits
        e_add = tech.add_pj(acc)
        e_shift = tech.shift_pj(acc)
        e_dram = tech.dram_pj_per_bit
        mem_cap = self.membrane_sram_kb * KB_BITS
        spike_cap = self.spike_sram_kb * KB_BITS
        log_weights = any(layer.weight_format == "log" for layer in workload.layers)
        area = self.area(self.pe_area_mm2(acc, log_weights))
        leak = self.leakage_mw(area)
        resident = self.resident(workload)
        dist = self.distances_mm(area)
        parts: dict[str, float] = {}
        costs: list[LayerCost] = []
        for layer in workload.layers:
            steps = layer.time_steps or workload.time_window
            ev_in = event_bits(layer.input_neurons, workload.time_window)
            ev_out = event_bits(layer.neurons, workload.time_window)
            in_bits = layer.input_spikes * ev_in
            out_bits = layer.output_spikes * ev_out
            spike_spill = spill_bits(in_bits + out_bits, spike_cap)
            reads_mem = 0.0
            if layer.kind == "pool" and layer.pool_op == "avg":
                # window sum, 1/k folded into the next layer: forward every input spike to
                # its window's output address (one address-wide add each)
                addr = max(1, math.ceil(math.log2(max(layer.neurons, 2))))
                compute = layer.input_spikes * tech.add_pj(addr)
                fwd_bits = layer.input_spikes * ev_out
                spike_spill = spill_bits(in_bits + fwd_bits, spike_cap)
                sram, wire = self.movement({"spike_sram": in_bits}, {"spike_sram": fwd_bits}, dist)
                dram = 2 * spike_spill * e_dram
                cycles = elementwise_cycles(layer.input_spikes, p)
                busy = layer.input_spikes
            elif layer.kind == "pool":
                # max pooling of spike counts: one count comparison per input spike
                count_bits = max(1, math.ceil(math.log2(workload.time_window + 1)))
                compute = layer.input_spikes * tech.add_pj(count_bits)
                sram, wire = self.movement({"spike_sram": in_bits}, {"spike_sram": out_bits}, dist)
                dram = 2 * spike_spill * e_dram
                cycles = elementwise_cycles(layer.input_spikes, p)
                busy = layer.input_spikes
            else:
                n = layer.neurons
                m = map_layer(layer, p, self.position_parallel)
                # one event-driven pass per time step, at that step's occupancy
                occ = m.step_occupancy(spike_occupancy(layer, steps))
                int_cycles = steps * m.dense_steps * occ
                weight_reads = steps * m.dense_weight_reads * occ
                event_reads = layer.synops * m.channel_groups / m.channels
                e_synop = e_add + (e_shift if layer.weight_format == "log" else 0.0)
                updates = n * steps  # one membrane read-modify-write per neuron per step
                compares = updates if layer.fires else n  # threshold per step, or argmax
                compute = (
                    layer.synops * e_synop
                    + updates * e_add  # add the step's input to the potential
                    + compares * e_add
                    + layer.output_spikes * e_add  # reset by subtraction
                )
                mem_bits = n * acc
                w_dram = self.weight_dram_bits(layer, resident, tiles(mem_bits, mem_cap))
                reads_mem = updates  # read-modify-write of every potential every step
                sram, wire = self.movement(
                    {
                        "weight_sram": weight_reads * layer.weight_bits,
                        "spike_sram": event_reads * ev_in,
                        "membrane_sram": updates * acc,
                    },
                    {
                        "weight_sram": w_dram,  # DRAM fills
                        "spike_sram": out_bits,
                        "membrane_sram": updates * acc,
                    },
                    dist,
                )
                mem_spill = spill_bits(mem_bits, mem_cap)
                dram = (w_dram + 2 * steps * mem_spill + 2 * spike_spill) * e_dram
                cycles = int_cycles + steps * elementwise_cycles(n, p)
                busy = layer.synops + updates
            costs.append(
                self.layer_cost(
                    layer, compute, sram, dram, cycles, busy, leak, parts, wire, reads_mem
                )
            )
        return self.report(costs, area, workload.total_synops, parts, workload)
