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
3. firing, so that the next layer receives its spikes in time order (``fire``):

   * ``leading_one`` (default): a TTFS-log neuron fires at the first t with
     V >= theta * 2^-t, i.e. t = the position of V's leading one below theta's (clipped
     to T - 1; no spike below theta * 2^-(T-1)). Each potential is read once, a
     leading-one detector (priced as one accumulator-wide add) gives its spike time, and
     a fired neuron appends its event to the bin of that time step (one bin-pointer
     increment of address width); the next layer reads the bins in order. The
     simulator's own fire does exactly this (one read per neuron);
   * ``scan``: at each of the layer's T steps every potential is read and compared with
     the halving threshold (N x T reads and comparisons), for designs that fire that way.

Weights come from DRAM only when the network's weights do not all fit the weight SRAM,
as often as ``loop_order`` needs (_memory.py); fills are written into the weight SRAM.
The last layer does not fire: its potentials are written, read once and compared
(argmax). Max pooling is the earliest input spike: one time comparison per input spike;
average pooling is not a TTFS spike operation (the ttfs_log coding refuses it) and is
refused here too.
Formulas with every term: docs/HARDWARE.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from dse.api.errors import ConfigError, require
from dse.api.interfaces import HardwareReport, LayerCost
from dse.api.workload import Workload
from dse.builtin.hardware._common import SpikingProcessor, check_workload
from dse.builtin.hardware._mapping import elementwise_cycles, map_layer, spike_occupancy
from dse.builtin.hardware._memory import KB_BITS, event_bits, spill_bits, tiles
from dse.builtin.hardware.technology import Technology

FIRES = ("leading_one", "scan")


class TTFSProcessor(SpikingProcessor):
    """TTFS processor (Lew et al. DAC 2022): log-shift-accumulate PEs, layer by layer over T."""

    def __init__(
        self,
        num_pes: int = 256,
        clock_mhz: float = 200.0,
        weight_sram_kb: float = 256.0,
        membrane_sram_kb: float = 128.0,
        spike_sram_kb: float = 64.0,
        technology: str | Mapping | Technology = "28nm",
        position_parallel: int = 16,
        loop_order: str = "weights_outer",
        dram_bits_per_cycle: float = 64.0,
        weight_residency: str = "auto",
        overheads: bool = True,
        calibration: float | None = None,
        fire: str = "leading_one",
    ) -> None:
        super().__init__(
            num_pes,
            clock_mhz,
            weight_sram_kb,
            membrane_sram_kb,
            spike_sram_kb,
            technology,
            position_parallel,
            loop_order,
            dram_bits_per_cycle,
            weight_residency,
            overheads,
            calibration,
        )
        require(fire in FIRES, "hardware.fire", f"must be one of {list(FIRES)}", fire)
        self.fire = fire

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
            if layer.kind == "pool":
                if layer.pool_op == "avg":
                    raise ConfigError(
                        f"workload.{layer.name}: ttfs_processor prices max pooling (the "
                        "earliest spike) only; average pooling is not a TTFS spike operation"
                    )
                # earliest spike: compare spike times (log2 T bits) once per input spike
                t_bits = max(1, math.ceil(math.log2(max(workload.time_window, 2))))
                compute = layer.input_spikes * tech.add_pj(t_bits)
                sram, wire = self.movement({"spike_sram": in_bits}, {"spike_sram": out_bits}, dist)
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
                scan = layer.fires and self.fire == "scan"
                # reads of each potential: T (scan), else one (leading-one fire, read-out)
                fire_steps = steps if scan else 1
                reads_mem = n * fire_steps
                if not layer.fires:
                    fire_logic = n * e_add  # argmax: one comparison per potential
                elif scan:
                    fire_logic = reads_mem * e_add  # halving-threshold compare per step
                else:
                    # leading-one detect per potential + a bin-pointer increment per spike
                    addr = max(1, math.ceil(math.log2(max(n, 2))))
                    fire_logic = n * e_add + layer.output_spikes * tech.add_pj(addr)
                compute = layer.synops * e_synop + fire_logic
                membrane_bits = n * acc
                w_dram = self.weight_dram_bits(layer, resident, tiles(membrane_bits, mem_cap))
                sram, wire = self.movement(
                    {
                        "weight_sram": weight_reads * layer.weight_bits,
                        "spike_sram": event_reads * ev_in,
                        "membrane_sram": membrane_bits * fire_steps,
                    },
                    {
                        "weight_sram": w_dram,  # DRAM fills
                        "spike_sram": out_bits,
                        "membrane_sram": membrane_bits,  # potentials written once
                    },
                    dist,
                )
                mem_spill = spill_bits(membrane_bits, mem_cap)
                dram = (w_dram + mem_spill * (1 + fire_steps) + 2 * spike_spill) * e_dram
                cycles = int_cycles + fire_steps * elementwise_cycles(n, p)
                busy = layer.synops + reads_mem
            costs.append(
                self.layer_cost(
                    layer, compute, sram, dram, cycles, busy, leak, parts, wire, reads_mem
                )
            )
        return self.report(costs, area, workload.total_synops, parts, workload)
