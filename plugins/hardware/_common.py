"""Shared parts of the processor models: validation, data movement (SRAM + wires),
clock and registers, leakage, calibration, the energy band and report assembly."""

from __future__ import annotations

import math
from collections.abc import Mapping

from dse.api.errors import require
from dse.api.interfaces import EnergyBreakdown, HardwareModel, HardwareReport, LayerCost
from dse.api.workload import LayerWorkload, Workload
from dse.builtin.hardware._mapping import LOOP_ORDERS
from dse.builtin.hardware._memory import KB_BITS, network_resident, weight_bits, weight_fetch_bits
from dse.builtin.hardware.technology import Technology, load_technology

PJ_PER_UJ = 1e6
WEIGHT_RESIDENCY = ("auto", "streamed")
# the energy groups a report is built from (the technology states a spread for each)
PARTS = ("logic", "sram", "wire", "clock", "dram", "leakage")


def energy_band(parts: Mapping[str, float], tech: Technology) -> tuple[float, float]:
    """(low, high) energy from each group's stated spread, combined as independent errors
    (root sum of squares of each group's deviation at its range's ends)."""
    total = sum(parts.values())
    down = up = 0.0
    for group, value in parts.items():
        low, high = tech.spread_of(group)
        down += (value * (1.0 - low)) ** 2
        up += (value * (high - 1.0)) ** 2
    return total - math.sqrt(down), total + math.sqrt(up)


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
        weight_residency: str = "auto",
        overheads: bool = True,
        calibration: float | None = None,
    ) -> None:
        self.num_pes = check_positive_int(num_pes, "hardware.num_pes")
        require(
            weight_residency in WEIGHT_RESIDENCY,
            "hardware.weight_residency",
            f"must be one of {list(WEIGHT_RESIDENCY)}",
            weight_residency,
        )
        self.weight_residency = weight_residency
        require(
            isinstance(overheads, bool), "hardware.overheads", "must be true or false", overheads
        )
        self.overheads = overheads
        if calibration is not None:
            check_positive(calibration, "hardware.calibration")
        self.calibration = None if calibration is None else float(calibration)
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
        self.e_read = {"weight_sram": self.e_weight_read}
        self.e_write = {"weight_sram": self.e_weight_write}

    def weight_dram_bits(self, layer: LayerWorkload, resident: bool, position_tiles: int) -> float:
        """DRAM weight bits of one layer per inference (0 when the network is resident)."""
        if resident or layer.kind == "pool":
            return 0.0
        return weight_fetch_bits(
            weight_bits(layer), self.weight_capacity_bits, self.loop_order, position_tiles
        )

    def resident(self, workload: Workload) -> bool:
        """Weights loaded once and kept (no per-inference DRAM): they all fit the weight
        SRAM, unless ``weight_residency=streamed`` (fetched every inference regardless)."""
        if self.weight_residency == "streamed":
            return False
        return network_resident(workload.layers, self.weight_capacity_bits)

    def residency_notes(self, workload: Workload, dram_uj: float, total_uj: float) -> list[str]:
        """The first line a reader needs when the defaults stream every weight from DRAM."""
        if self.weight_residency == "streamed" or self.resident(workload):
            return []
        kb = sum(weight_bits(layer) for layer in workload.layers) / KB_BITS
        share = f" ({100 * dram_uj / total_uj:.0f} % of the energy)" if total_uj > 0 else ""
        need = 2 ** math.ceil(math.log2(max(kb, 1.0)))
        return [
            f"weights streamed from DRAM every inference: {kb:,.0f} KB of weights do not fit "
            f"the {self.weight_sram_kb:g} KB weight SRAM; DRAM {dram_uj:.4g} uJ{share}; "
            f"hardware.weight_sram_kb={need:g} keeps them on chip"
        ]

    # ------------------------------------------------------------- data movement
    def distances_mm(self, area: Mapping[str, float]) -> dict[str, float]:
        """Wire length (mm) a bit travels between each buffer and the PE array: from the
        macro's centre to the array's centre (side by side: half of each side, square
        macros), plus one broadcast across the array (its side) for bits read into it."""
        array_side = math.sqrt(area.get("pe_array", 0.0))
        return {
            name: (math.sqrt(mm2) + array_side) / 2
            for name, mm2 in area.items()
            if name != "pe_array"
        } | {"broadcast": array_side}

    def movement(
        self, reads: Mapping[str, float], writes: Mapping[str, float], dist: Mapping[str, float]
    ) -> tuple[float, float]:
        """(SRAM pJ, wire pJ) of ``reads`` / ``writes``: bits per buffer name. SRAM at the
        buffer's CACTI read / write energy per bit; wires: read bits travel to the array and
        across it, written bits from the array to the buffer."""
        sram = wire = 0.0
        e_wire = self.tech.wire_pj_per_bit_mm if self.overheads else 0.0
        for name, bits in reads.items():
            sram += bits * self.e_read[name]
            wire += bits * (dist[name] + dist["broadcast"]) * e_wire
        for name, bits in writes.items():
            sram += bits * self.e_write[name]
            wire += bits * dist[name] * e_wire
        return sram, wire

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
        parts: dict[str, float],
        wire_pj: float = 0.0,
        membrane_reads: float = 0.0,
    ) -> LayerCost:
        """One layer's cost; its energy by constant group is added to ``parts`` (pJ).

        compute = logic x (1 + c), sram = (SRAM + wires) x (1 + c), with c the clock
        network and registers per pJ of the rest of the dynamic energy (0 without
        overheads); the calibration scale, when set, multiplies every on-chip part."""
        # DRAM transfers overlap computation up to the DRAM bandwidth: a layer takes at
        # least its DRAM bits / dram_bits_per_cycle cycles
        dram_cycles = dram_pj / (self.tech.dram_pj_per_bit * self.dram_bits_per_cycle)
        cycles = math.ceil(max(cycles, dram_cycles))  # fractional from averaged activity
        latency_ms = cycles / (self.clock_mhz * 1e3)
        c = self.tech.clock_factor if self.overheads else 0.0
        k = self.calibration or 1.0
        leak_pj = leakage_mw * latency_ms * PJ_PER_UJ  # mW x ms = uJ
        clock_pj = c * (compute_pj + sram_pj + wire_pj)
        for name, value in (
            ("logic", compute_pj * k),
            ("sram", sram_pj * k),
            ("wire", wire_pj * k),
            ("clock", clock_pj * k),
            ("dram", dram_pj),
            ("leakage", leak_pj * k),
        ):
            parts[name] = parts.get(name, 0.0) + value
        return LayerCost(
            name=layer.name,
            energy=EnergyBreakdown(
                compute_uj=compute_pj * (1 + c) * k / PJ_PER_UJ,
                sram_uj=(sram_pj + wire_pj) * (1 + c) * k / PJ_PER_UJ,
                dram_uj=dram_pj / PJ_PER_UJ,
                leakage_uj=leak_pj * k / PJ_PER_UJ,
            ),
            cycles=cycles,
            latency_ms=latency_ms,
            pe_utilization=busy_pe_cycles / (self.num_pes * cycles) if cycles else 0.0,
            synops=layer.synops,
            membrane_reads=membrane_reads,
        )

    def report(
        self,
        costs: list[LayerCost],
        area: dict[str, float],
        operations: float,
        parts: dict[str, float] | None = None,
        workload: Workload | None = None,
    ) -> HardwareReport:
        total = EnergyBreakdown()
        cycles = 0
        util_cycles = 0.0
        for cost in costs:
            total = total + cost.energy
            cycles += cost.cycles
            util_cycles += cost.pe_utilization * cost.cycles
        energy = total.total_uj
        parts_uj = {k: v / PJ_PER_UJ for k, v in (parts or {}).items()}
        low, high = energy_band(parts_uj, self.tech) if parts_uj else (energy, energy)
        notes = (
            tuple(self.residency_notes(workload, total.dram_uj, energy))
            if workload is not None
            else ()
        )
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
            energy_uj_low=low,
            energy_uj_high=high,
            energy_parts_uj=parts_uj,
            calibration=self.calibration or 1.0,
            notes=notes,
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
        self.membrane_sram_kb = check_positive(membrane_sram_kb, "hardware.membrane_sram_kb")
        self.spike_sram_kb = check_positive(spike_sram_kb, "hardware.spike_sram_kb")
        tech = self.tech
        self.e_membrane_read = tech.sram_read_pj_per_bit(self.membrane_sram_kb)
        self.e_membrane_write = tech.sram_write_pj_per_bit(self.membrane_sram_kb)
        self.e_spike_read = tech.sram_read_pj_per_bit(self.spike_sram_kb)
        self.e_spike_write = tech.sram_write_pj_per_bit(self.spike_sram_kb)
        self.e_read |= {"membrane_sram": self.e_membrane_read, "spike_sram": self.e_spike_read}
        self.e_write |= {"membrane_sram": self.e_membrane_write, "spike_sram": self.e_spike_write}

    def sram_kb(self) -> dict[str, float]:
        return {
            "weight_sram": self.weight_sram_kb,
            "membrane_sram": self.membrane_sram_kb,
            "spike_sram": self.spike_sram_kb,
        }
