"""Shared parts of the processor models: validation, leakage and report assembly."""

from __future__ import annotations

import math
from collections.abc import Mapping

from dse.builtin.hardware._mapping import LOOP_ORDERS
from dse.builtin.hardware._memory import KB_BITS, network_resident, weight_bits, weight_fetch_bits
from dse.builtin.hardware.technology import Technology, load_technology
from dse.errors import require
from dse.interfaces import EnergyBreakdown, HardwareModel, HardwareReport, LayerCost
from dse.workload import LayerWorkload, Workload

PJ_PER_UJ = 1e6


def check_positive_int(value: int, field: str) -> int:
    require(
        isinstance(value, int) and not isinstance(value, bool), field, "must be an integer", value
    )
    require(value >= 1, field, "must be >= 1", value)
    return value


def check_positive(value: float, field: str) -> float:
    require(
        isinstance(value, (int, float)) and not isinstance(value, bool),
        field,
        "must be a number",
        value,
    )
    require(value > 0, field, "must be > 0", value)
    return float(value)


def check_workload(workload: Workload) -> None:
    """Reject workloads a processor cannot price (one clear message naming the field)."""
    require(workload.time_window >= 1, "workload.time_window", "must be >= 1", workload.time_window)
    require(
        workload.accumulator_bits >= 1,
        "workload.accumulator_bits",
        "must be >= 1",
        workload.accumulator_bits,
    )
    for layer in workload.layers:
        if layer.kind != "pool":
            require(
                layer.weight_bits >= 1,
                f"workload.{layer.name}.weight_bits",
                "must be >= 1",
                layer.weight_bits,
            )
        for key in ("input_spikes", "output_spikes", "synops", "time_steps"):
            value = getattr(layer, key)
            require(value >= 0, f"workload.{layer.name}.{key}", "must be >= 0", value)


class Processor(HardwareModel):
    """Common constructor arguments: PE count, clock, technology, weight SRAM, mapping."""

    def __init__(
        self,
        num_pes: int,
        clock_mhz: float,
        weight_sram_kb: float,
        technology: str | Mapping | Technology,
        position_parallel: int = 16,
        loop_order: str = "weights_outer",
        dram_bits_per_cycle: float = 64.0,
    ) -> None:
        self.num_pes = check_positive_int(num_pes, "hardware.num_pes")
        self.dram_bits_per_cycle = check_positive(
            dram_bits_per_cycle, "hardware.dram_bits_per_cycle"
        )
        self.clock_mhz = check_positive(clock_mhz, "hardware.clock_mhz")
        self.weight_sram_kb = check_positive(weight_sram_kb, "hardware.weight_sram_kb")
        self.position_parallel = check_positive_int(position_parallel, "hardware.position_parallel")
        require(
            loop_order in LOOP_ORDERS,
            "hardware.loop_order",
            f"must be one of {list(LOOP_ORDERS)}",
            loop_order,
        )
        self.loop_order = loop_order
        self.tech = load_technology(technology)
        self.weight_capacity_bits = self.weight_sram_kb * KB_BITS
        self.e_weight_read = self.tech.sram_read_pj_per_bit(self.weight_sram_kb)
        self.e_weight_write = self.tech.sram_write_pj_per_bit(self.weight_sram_kb)

    def weight_dram_bits(self, layer: LayerWorkload, resident: bool, position_tiles: int) -> float:
        """DRAM weight bits of one layer per inference (0 when the network is resident)."""
        if resident or layer.kind == "pool":
            return 0.0
        return weight_fetch_bits(
            weight_bits(layer), self.weight_capacity_bits, self.loop_order, position_tiles
        )

    def resident(self, workload: Workload) -> bool:
        return network_resident(workload.layers, self.weight_capacity_bits)

    def sram_kb(self) -> dict[str, float]:
        """Name -> capacity (KB) of every on-chip SRAM buffer."""
        return {"weight_sram": self.weight_sram_kb}

    def layer_cost(
        self,
        layer: LayerWorkload,
        compute_pj: float,
        sram_pj: float,
        dram_pj: float,
        cycles: float,
        busy_pe_cycles: float,
        leakage_mw: float,
    ) -> LayerCost:
        # DRAM transfers overlap computation up to the DRAM bandwidth: a layer takes at
        # least its DRAM bits / dram_bits_per_cycle cycles
        dram_cycles = dram_pj / (self.tech.dram_pj_per_bit * self.dram_bits_per_cycle)
        cycles = math.ceil(max(cycles, dram_cycles))  # fractional from averaged activity
        latency_ms = cycles / (self.clock_mhz * 1e3)
        return LayerCost(
            name=layer.name,
            energy=EnergyBreakdown(
                compute_uj=compute_pj / PJ_PER_UJ,
                sram_uj=sram_pj / PJ_PER_UJ,
                dram_uj=dram_pj / PJ_PER_UJ,
                leakage_uj=leakage_mw * latency_ms,  # mW x ms = uJ
            ),
            cycles=cycles,
            latency_ms=latency_ms,
            pe_utilization=busy_pe_cycles / (self.num_pes * cycles) if cycles else 0.0,
            synops=layer.synops,
        )

    def report(
        self, costs: list[LayerCost], area: dict[str, float], operations: float
    ) -> HardwareReport:
        total = EnergyBreakdown()
        cycles = 0
        util_cycles = 0.0
        for cost in costs:
            total = total + cost.energy
            cycles += cost.cycles
            util_cycles += cost.pe_utilization * cost.cycles
        energy = total.total_uj
        return HardwareReport(
            energy_uj=energy,
            latency_ms=cycles / (self.clock_mhz * 1e3),
            area_mm2=sum(area.values()),
            cycles=cycles,
            pe_utilization=util_cycles / cycles if cycles else 0.0,
            pj_per_synop=energy * PJ_PER_UJ / operations if operations > 0 else 0.0,
            breakdown=total,
            layers=tuple(costs),
            area_breakdown_mm2=area,
        )

    def area(self, pe_area_mm2: float) -> dict[str, float]:
        """Area breakdown: the PE array plus every SRAM buffer (no other chip overhead)."""
        out = {"pe_array": self.num_pes * pe_area_mm2}
        for name, kb in self.sram_kb().items():
            out[name] = self.tech.sram_area_mm2(kb)
        return out

    def leakage_mw(self, area: dict[str, float]) -> float:
        return self.tech.leakage_mw_per_mm2 * sum(area.values())


class SpikingProcessor(Processor):
    """A processor with membrane-potential and spike buffers besides the weight SRAM."""

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
    ) -> None:
        super().__init__(
            num_pes,
            clock_mhz,
            weight_sram_kb,
            technology,
            position_parallel,
            loop_order,
            dram_bits_per_cycle,
        )
        self.membrane_sram_kb = check_positive(membrane_sram_kb, "hardware.membrane_sram_kb")
        self.spike_sram_kb = check_positive(spike_sram_kb, "hardware.spike_sram_kb")
        tech = self.tech
        self.e_membrane_read = tech.sram_read_pj_per_bit(self.membrane_sram_kb)
        self.e_membrane_write = tech.sram_write_pj_per_bit(self.membrane_sram_kb)
        self.e_spike_read = tech.sram_read_pj_per_bit(self.spike_sram_kb)
        self.e_spike_write = tech.sram_write_pj_per_bit(self.spike_sram_kb)

    def sram_kb(self) -> dict[str, float]:
        return {
            "weight_sram": self.weight_sram_kb,
            "membrane_sram": self.membrane_sram_kb,
            "spike_sram": self.spike_sram_kb,
        }
