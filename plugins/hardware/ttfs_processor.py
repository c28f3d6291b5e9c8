"""The paper's processor: log-shift-accumulate PEs over a TTFS time window.

Lew, Lee, Park (DAC 2022): with TTFS coding an input spike at step t carries
theta * 2^-t, so its product with any weight is a shift; with log weights +-2^-e it is
+-2^-(t+e). Each PE therefore shifts and accumulates, at the workload's accumulator
width. Layers run one after the other; within a layer:

1. integration: output-neuron parallel (see _mapping.py), the potential of each PE's
   neuron held in its accumulator; per synaptic operation one weight read from the
   weight SRAM, one shift and one add; one input spike event is read from the spike SRAM
   and broadcast to the PEs per cycle;
2. the potentials are written to the membrane SRAM (accumulator bits each);
3. firing, in time order so the next layer receives its spikes sorted: at each of the
   layer's time steps every neuron's potential is read and compared with the halving
   threshold theta * 2^-t (one comparison = one add); fired neurons write a spike event
   (address + time) to the spike SRAM. Counting every neuron at every step is an upper
   bound: a neuron that fired could be skipped.

The last layer does not fire: its potentials are written, read once and compared
(argmax). Max pooling is the earliest input spike: one time comparison per input spike.
Formulas with every term: docs/HARDWARE.md.
"""

from __future__ import annotations

import math

from dse.interfaces import HardwareReport, LayerCost
from dse.workload import Workload
from plugins.hardware._common import SpikingProcessor, check_workload
from plugins.hardware._mapping import array_cycles, elementwise_cycles, parallel_units
from plugins.hardware._memory import KB_BITS, event_bits, spill_bits, streamed_weight_bits


class TTFSProcessor(SpikingProcessor):
    """TTFS processor (Lew et al. DAC 2022): log-shift-accumulate PEs, layer by layer over T."""

    def pe_area_mm2(self, acc_bits: int) -> float:
        """Shifter + accumulator adder + threshold comparator, times the PE overhead."""
        tech = self.tech
        datapath = tech.add_area_mm2(acc_bits) * (2 + tech.shift_rel_add)
        return tech.pe_overhead * datapath

    def estimate(self, workload: Workload) -> HardwareReport:
        check_workload(workload)
        tech, p = self.tech, self.num_pes
        acc = workload.accumulator_bits
        e_add = tech.add_pj(acc)
        e_synop = tech.shift_pj(acc) + e_add
        e_w, e_m, e_s, e_dram = self.e_weight, self.e_membrane, self.e_spike, tech.dram_pj_per_bit
        mem_cap = self.membrane_sram_kb * KB_BITS
        spike_cap = self.spike_sram_kb * KB_BITS
        area = self.area(self.pe_area_mm2(acc))
        leak = self.leakage_mw(area)
        streamed = streamed_weight_bits(workload.layers, self.weight_capacity_bits)
        costs: list[LayerCost] = []
        for layer, w_dram in zip(workload.layers, streamed, strict=True):
            steps = layer.time_steps or workload.time_window
            ev_in = event_bits(layer.input_neurons, workload.time_window)
            ev_out = event_bits(layer.neurons, workload.time_window)
            spikes_bits = layer.input_spikes * ev_in + layer.output_spikes * ev_out
            spike_spill = spill_bits(spikes_bits, spike_cap)
            if layer.kind == "pool":
                # earliest spike: compare spike times (log2 T bits) once per input spike
                t_bits = max(1, math.ceil(math.log2(max(workload.time_window, 2))))
                compute = layer.input_spikes * tech.add_pj(t_bits)
                sram = spikes_bits * e_s
                dram = 2 * spike_spill * e_dram
                cycles = elementwise_cycles(layer.input_spikes, p)
                busy = layer.input_spikes
            else:
                n = layer.neurons
                units = parallel_units(layer)
                int_cycles = array_cycles(layer.synops, units, p)
                fire_steps = steps if layer.fires else 1  # last layer: one argmax comparison
                compares = n * fire_steps
                compute = layer.synops * e_synop + compares * e_add
                membrane_bits = n * acc
                sram = (
                    (layer.synops * layer.weight_bits + w_dram) * e_w  # reads + streamed fills
                    + (int_cycles * ev_in + layer.output_spikes * ev_out) * e_s
                    + membrane_bits * (1 + fire_steps) * e_m  # 1 write, read per step
                )
                mem_spill = spill_bits(membrane_bits, mem_cap)
                dram = (w_dram + mem_spill * (1 + fire_steps) + 2 * spike_spill) * e_dram
                cycles = int_cycles + fire_steps * elementwise_cycles(n, p)
                busy = layer.synops + compares
            costs.append(self.layer_cost(layer, compute, sram, dram, cycles, busy, leak))
        return self.report(costs, area, workload.total_synops)
