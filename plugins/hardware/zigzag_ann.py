"""ZigZag (zigzag-dse 3.9.1) as an outside reference for the dense ANN accelerator.

The optional extra ``pip install 'snn-dse[zigzag]'`` installs ZigZag; nothing else in the
project imports it, and this module imports it only inside :func:`run_zigzag_layer`.

:func:`accelerator_description` writes the architecture of an
:class:`~dse.builtin.hardware.ann_accelerator.ANNAccelerator` in ZigZag's YAML schema: the
same ``rows x cols`` MAC array (``cols = position_parallel`` output positions, ``rows``
output channels), a per-PE output register (the accumulator: its energy is in the MAC's,
as in ann_accelerator), the weight SRAM and the activation SRAM (inputs and outputs) at
their sizes with the technology's CACTI read/write energies per 128-bit access and
areas, and a DRAM at the technology's pJ/bit. The spatial unrolling is fixed to the
one ann_accelerator uses (output channels on D1, output positions on D2); ZigZag's LOMA
engine then searches the temporal loop order and memory allocation itself, minimising
energy: the comparison checks our closed-form counts against an independent mapper and
cost model, not against ourselves.

ZigZag prices dynamic energy (MACs + memory accesses) and latency; it has no leakage, so
the comparison is on dynamic energy and cycles. :class:`ZigZagANN` wraps this as a
``hardware`` plugin (``hardware=zigzag_ann``): slow (seconds per layer), for reference
runs, not for searches.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dse.api.errors import require
from dse.api.interfaces import EnergyBreakdown, HardwareReport, LayerCost
from dse.api.workload import LayerWorkload, Workload
from dse.builtin.hardware._common import PJ_PER_UJ, check_workload
from dse.builtin.hardware._mapping import map_layer
from dse.builtin.hardware._memory import KB_BITS
from dse.builtin.hardware.ann_accelerator import ANNAccelerator, mac_accumulator_bits
from dse.builtin.hardware.technology import Technology

ACCESS_BITS = 128  # the CACTI tables' access width


@dataclass(frozen=True)
class ZigZagLayer:
    """ZigZag's result for one layer: dynamic energy split and cycles."""

    name: str
    mac_uj: float
    memory_uj: float
    cycles: float

    @property
    def energy_uj(self) -> float:
        return self.mac_uj + self.memory_uj


def _ports(operand_dirs: list[str], width: int, rw: bool = False) -> list[dict]:
    if rw:
        return [
            {
                "name": "rw_port_1",
                "type": "read_write",
                "bandwidth_min": 1,
                "bandwidth_max": width,
                "allocation": operand_dirs,
            }
        ]
    reads = [a for a in operand_dirs if a.endswith(("tl", "th"))]
    writes = [a for a in operand_dirs if a.endswith(("fh", "fl"))]
    return [
        {
            "name": "r_port_1",
            "type": "read",
            "bandwidth_min": 1,
            "bandwidth_max": width,
            "allocation": reads,
        },
        {
            "name": "w_port_1",
            "type": "write",
            "bandwidth_min": 1,
            "bandwidth_max": width,
            "allocation": writes,
        },
    ]


def accelerator_description(hw: ANNAccelerator, layer: LayerWorkload, resident: bool) -> dict:
    """ZigZag accelerator dict (its YAML schema) of ``hw`` for one layer's MAC energy.

    ``resident``: the whole network's weights fit the weight SRAM, so there is no DRAM
    (ann_accelerator: loaded once, no per-inference traffic)."""
    tech: Technology = hw.tech
    a_bits = hw.activation_bits
    acc = mac_accumulator_bits(layer, a_bits)
    m = map_layer(layer, hw.num_pes, hw.position_parallel)

    def sram(kb: float, operands: list[str], dirs: list[str]) -> dict:
        return {
            "size": int(kb * KB_BITS),
            "r_cost": tech.sram_read_pj_per_bit(kb) * ACCESS_BITS,
            "w_cost": tech.sram_write_pj_per_bit(kb) * ACCESS_BITS,
            "area": tech.sram_area_mm2(kb),
            "latency": 1,
            "operands": operands,
            "ports": _ports(dirs, ACCESS_BITS),
            "served_dimensions": ["D1", "D2"],
        }

    dram = {
        "size": 10**12,
        "r_cost": tech.dram_pj_per_bit * hw.dram_bits_per_cycle,
        "w_cost": tech.dram_pj_per_bit * hw.dram_bits_per_cycle,
        "area": 0.0,
        "latency": 1,
        # weights only: activations live in the activation SRAM between layers, as
        # ann_accelerator assumes while a layer's maps fit (checked by the caller)
        "operands": ["I2"],
        "ports": _ports(["I2, fh", "I2, tl"], int(hw.dram_bits_per_cycle), rw=True),
        "served_dimensions": ["D1", "D2"],
    }
    # ZigZag reads the memories innermost first: keep this order (and sort_keys=False)
    description = {
        "name": "ann_accelerator",
        "memories": {
            "acc_reg": {  # the PE's accumulator: priced in the MAC energy, as ann_accelerator
                "size": acc,
                "r_cost": 0.0,
                "w_cost": 0.0,
                "area": 0.0,
                "latency": 1,
                "operands": ["O"],
                "ports": [
                    {
                        "name": "r_port_1",
                        "type": "read",
                        "bandwidth_min": acc,
                        "bandwidth_max": acc,
                        "allocation": ["O, tl", "O, th"],
                    },
                    {
                        "name": "w_port_1",
                        "type": "write",
                        "bandwidth_min": acc,
                        "bandwidth_max": acc,
                        "allocation": ["O, fh", "O, fl"],
                    },
                ],
                "served_dimensions": [],
            },
            "weight_sram": sram(hw.weight_sram_kb, ["I2"], ["I2, tl", "I2, fh"]),
            "activation_sram": sram(
                hw.activation_sram_kb,
                ["I1", "O"],
                ["I1, tl", "I1, fh", "O, tl", "O, th", "O, fh", "O, fl"],
            ),
        },
        "operational_array": {
            "unit_energy": tech.mul_pj(layer.weight_bits, a_bits) + tech.add_pj(acc),
            "unit_area": 1.0,
            "dimensions": ["D1", "D2"],
            "sizes": [m.rows, m.cols],
        },
    }
    if not resident:
        description["memories"]["dram"] = dram
    return description


def layer_description(layer: LayerWorkload, activation_bits: int) -> dict:
    """One conv or linear layer in ZigZag's workload schema (batch 1)."""
    acc = mac_accumulator_bits(layer, activation_bits)
    precision = {"W": layer.weight_bits, "I": activation_bits, "O": acc, "O_final": activation_bits}
    if layer.kind == "conv":
        c, ih, iw = layer.input_shape
        k, oh, ow = layer.output_shape
        return {
            "id": 0,
            "name": layer.name,
            "operator_type": "Conv",
            "equation": "O[b][k][oy][ox]+=W[k][c][fy][fx]*I[b][c][iy][ix]",
            "dimension_relations": [
                f"ix={layer.stride}*ox+1*fx",
                f"iy={layer.stride}*oy+1*fy",
            ],
            "loop_dims": ["B", "K", "C", "OY", "OX", "FY", "FX"],
            "loop_sizes": [1, k, c, oh, ow, layer.kernel, layer.kernel],
            "operand_precision": precision,
            "operand_source": {"W": 0, "I": 0},
            "pr_loop_dims": ["IX", "IY"],
            "pr_loop_sizes": [iw, ih],
            "padding": [[layer.padding, layer.padding], [layer.padding, layer.padding]],
        }
    return {
        "id": 0,
        "name": layer.name,
        "operator_type": "Gemm",
        "equation": "O[b][k]+=W[k][c]*I[b][c]",
        "loop_dims": ["B", "K", "C"],
        "loop_sizes": [1, layer.neurons, layer.fan_in],
        "operand_precision": precision,
        "operand_source": {"W": 0, "I": 0},
    }


def mapping_description(layer: LayerWorkload, hw: ANNAccelerator) -> list[dict]:
    """ann_accelerator's spatial unrolling: channels on D1, output positions on D2."""
    m = map_layer(layer, hw.num_pes, hw.position_parallel)
    d2: list[str] = []
    if layer.kind == "conv" and m.cols > 1:
        ow = layer.output_shape[2]
        ox = math.gcd(m.cols, ow)  # split the columns over OX then OY
        d2.append(f"OX, {ox}")
        if m.cols // ox > 1:
            d2.append(f"OY, {m.cols // ox}")
    spatial = {"D1": [f"K, {m.rows}"], "D2": d2 or ["C, 1"]}
    return [
        {
            "name": "default",
            "spatial_mapping": spatial,
            "memory_operand_links": {"O": "O", "W": "I2", "I": "I1"},
        }
    ]


def run_zigzag_layer(
    hw: ANNAccelerator,
    layer: LayerWorkload,
    workdir: str | Path,
    resident: bool = False,
    lpf_limit: int = 6,
) -> ZigZagLayer:
    """Evaluate one layer with ZigZag (LOMA temporal mapping search, minimal energy)."""
    import logging

    import yaml
    from zigzag.api import get_hardware_performance_zigzag

    logging.getLogger("zigzag").setLevel(logging.WARNING)
    work = Path(workdir) / layer.name
    work.mkdir(parents=True, exist_ok=True)
    acc_path, map_path, wl_path = work / "arch.yaml", work / "mapping.yaml", work / "layer.yaml"
    acc_path.write_text(
        yaml.safe_dump(accelerator_description(hw, layer, resident), sort_keys=False)
    )
    map_path.write_text(yaml.safe_dump(mapping_description(layer, hw), sort_keys=False))
    wl_path.write_text(
        yaml.safe_dump([layer_description(layer, hw.activation_bits)], sort_keys=False)
    )
    energy, latency, cmes = get_hardware_performance_zigzag(
        workload=str(wl_path),
        accelerator=str(acc_path),
        mapping=str(map_path),
        opt="energy",
        dump_folder=str(work / "out"),
        lpf_limit=lpf_limit,
        loma_show_progress_bar=False,
    )
    cme = cmes[0][0]
    return ZigZagLayer(
        name=layer.name,
        mac_uj=float(cme.mac_energy) / PJ_PER_UJ,
        memory_uj=float(cme.mem_energy) / PJ_PER_UJ,
        cycles=float(latency),
    )


def check_maps_fit(hw: ANNAccelerator, workload: Workload) -> None:
    """The description keeps activations in the activation SRAM: refuse layers whose maps
    do not fit it (ann_accelerator would spill them to DRAM; not described to ZigZag)."""
    for layer in workload.layers:
        bits = (layer.input_neurons + layer.neurons) * hw.activation_bits
        require(
            bits <= hw.activation_sram_kb * KB_BITS,
            "hardware.activation_sram_kb",
            f"must hold layer {layer.name}'s input and output maps for zigzag_ann "
            f"({bits / KB_BITS:g} KB)",
            hw.activation_sram_kb,
        )


class ZigZagANN(ANNAccelerator):
    """``hardware=zigzag_ann``: ann_accelerator's architecture priced by ZigZag itself.

    Conv and linear layers go through ZigZag (dynamic energy, cycles); pooling layers,
    leakage and area come from ann_accelerator's own model (ZigZag prices neither).
    """

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
        lpf_limit: int = 6,
    ) -> None:
        super().__init__(
            num_pes,
            clock_mhz,
            weight_sram_kb,
            activation_sram_kb,
            activation_bits,
            technology,
            position_parallel,
            loop_order,
            dram_bits_per_cycle,
            overheads=False,  # ZigZag prices MACs and memories: no clock, registers, wires
        )
        self.lpf_limit = int(lpf_limit)

    def estimate(self, workload: Workload) -> HardwareReport:
        check_workload(workload)
        own = super().estimate(workload)  # pooling, leakage rate and area
        area = own.area_breakdown_mm2
        leak_mw = self.leakage_mw(area)
        resident = self.resident(workload)
        check_maps_fit(self, workload)
        costs: list[LayerCost] = []
        macs = 0.0
        with tempfile.TemporaryDirectory() as tmp:
            for layer, cost in zip(workload.layers, own.layers, strict=True):
                if layer.kind == "pool":
                    costs.append(cost)
                    continue
                z = run_zigzag_layer(self, layer, tmp, resident, self.lpf_limit)
                macs += layer.connections
                cycles = math.ceil(z.cycles)
                latency_ms = cycles / (self.clock_mhz * 1e3)
                costs.append(
                    LayerCost(
                        name=layer.name,
                        energy=EnergyBreakdown(
                            compute_uj=z.mac_uj,
                            sram_uj=z.memory_uj,  # ZigZag's memory energy (SRAM and DRAM)
                            leakage_uj=leak_mw * latency_ms,
                        ),
                        cycles=cycles,
                        latency_ms=latency_ms,
                        pe_utilization=layer.connections / (self.num_pes * cycles)
                        if cycles
                        else 0.0,
                        synops=layer.synops,
                    )
                )
        return self.report(costs, area, macs)
