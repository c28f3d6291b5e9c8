"""The paper's processor: log-shift-accumulate PEs over a TTFS time window.

Lew, Lee, Park (DAC 2022): with TTFS coding an input spike at step t carries
theta * 2^-t, so its product with any weight is a shift; with log weights +-2^-e it is
+-2^-(t+e). Each PE therefore shifts and accumulates, at the workload's accumulator
width. Layers run one after the other; within a layer:

1. integration, output stationary on a rows x columns view of the array (_mapping.py):
   rows take output channels, columns output positions; each PE holds one neuron's
   potential in its accumulator for the layer's whole fan-in. Per step one weight per row
   is read from the weight SRAM and broadcast along the row (reused by up to
   ``position_parallel`` positions), one spike event per column is read from the spike
   SRAM and broadcast down the column; steps whose inputs carry no spike are skipped
   (event driven). Each synaptic operation is one shift and one add;
2. the potentials are written to the membrane SRAM (accumulator bits each);
3. firing, in time order so the next layer receives its spikes sorted: at each of the
   layer's time steps every neuron's potential is read and compared with the halving
   threshold theta * 2^-t (one comparison = one add); fired neurons write a spike event
   (address + time) to the spike SRAM. Counting every neuron at every step is an upper
   bound: a neuron that fired could be skipped.

Weights come from DRAM only when the network's weights do not all fit the weight SRAM,
as often as ``loop_order`` needs (_memory.py); fills are written into the weight SRAM.
The last layer does not fire: its potentials are written, read once and compared
(argmax). Max pooling is the earliest input spike: one time comparison per input spike.
Formulas with every term: docs/HARDWARE.md.
"""

from __future__ import annotations

import math

from dse.builtin.hardware._common import SpikingProcessor, check_workload
from dse.builtin.hardware._mapping import elementwise_cycles, map_layer, spike_occupancy
from dse.builtin.hardware._memory import KB_BITS, event_bits, spill_bits, tiles
from dse.interfaces import HardwareReport, LayerCost
from dse.workload import Workload


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
        e_dram = tech.dram_pj_per_bit
        mem_cap = self.membrane_sram_kb * KB_BITS
        spike_cap = self.spike_sram_kb * KB_BITS
        area = self.area(self.pe_area_mm2(acc))
        leak = self.leakage_mw(area)
        resident = self.resident(workload)
        costs: list[LayerCost] = []
        for layer in workload.layers:
            steps = layer.time_steps or workload.time_window
            ev_in = event_bits(layer.input_neurons, workload.time_window)
            ev_out = event_bits(layer.neurons, workload.time_window)
            in_bits = layer.input_spikes * ev_in
            out_bits = layer.output_spikes * ev_out
            spike_spill = spill_bits(in_bits + out_bits, spike_cap)
            if layer.kind == "pool":
                # earliest spike: compare spike times (log2 T bits) once per input spike
                t_bits = max(1, math.ceil(math.log2(max(workload.time_window, 2))))
                compute = layer.input_spikes * tech.add_pj(t_bits)
                sram = in_bits * self.e_spike_read + out_bits * self.e_spike_write
                dram = 2 * spike_spill * e_dram
                cycles = elementwise_cycles(layer.input_spikes, p)
                busy = layer.input_spikes
            else:
                n = layer.neurons
                m = map_layer(layer, p, self.position_parallel)
                occ = m.step_occupancy(spike_occupancy(layer, 1.0))
                int_cycles = m.dense_steps * occ
                weight_reads = m.dense_weight_reads * occ
                event_reads = layer.synops * m.channel_groups / m.channels
                fire_steps = steps if layer.fires else 1  # last layer: one argmax comparison
                compares = n * fire_steps
                compute = layer.synops * e_synop + compares * e_add
                membrane_bits = n * acc
                w_dram = self.weight_dram_bits(layer, resident, tiles(membrane_bits, mem_cap))
                sram = (
                    weight_reads * layer.weight_bits * self.e_weight_read
                    + w_dram * self.e_weight_write  # DRAM fills
                    + event_reads * ev_in * self.e_spike_read
                    + out_bits * self.e_spike_write
                    + membrane_bits * self.e_membrane_write  # potentials written once
                    + membrane_bits * fire_steps * self.e_membrane_read  # read every step
                )
                mem_spill = spill_bits(membrane_bits, mem_cap)
                dram = (w_dram + mem_spill * (1 + fire_steps) + 2 * spike_spill) * e_dram
                cycles = int_cycles + fire_steps * elementwise_cycles(n, p)
                busy = layer.synops + compares
            costs.append(self.layer_cost(layer, compute, sram, dram, cycles, busy, leak))
        return self.report(costs, area, workload.total_synops)
