"""How a layer's work maps onto the PE array: parallel units, cycles, utilisation.

Mapping (all three processors): output-neuron parallel, output stationary. A conv layer's
parallel units are its output channels at one output position (every PE of a pass reads
the same input spike or activation, broadcast, with its own weight), so a pass covers
``min(units, num_pes)`` channels and a layer needs ``positions * ceil(units / num_pes)``
passes; a linear layer's units are its output features (one position). A layer with
fewer units than PEs leaves PEs idle: utilisation = units / (num_pes * ceil(units / num_pes)).
"""

from __future__ import annotations

import math

from dse.workload import LayerWorkload


def parallel_units(layer: LayerWorkload) -> int:
    """Units of work one pass spreads over the PEs: output channels (conv), features (linear)."""
    if layer.kind == "conv":
        return max(1, layer.output_shape[0])
    return max(1, layer.neurons)


def utilization(units: int, num_pes: int) -> float:
    """Fraction of PEs busy in a pass of ``units`` parallel units (ceil division)."""
    return units / (num_pes * math.ceil(units / num_pes))


def array_cycles(work: float, units: int, num_pes: int) -> int:
    """Cycles for ``work`` unit operations spread over ``units`` parallel units.

    = ceil(work * ceil(units / num_pes) / units): each PE does one operation per cycle,
    ``ceil(units / num_pes)`` passes per group of ``units``.
    """
    if work <= 0:
        return 0
    return math.ceil(work * math.ceil(units / num_pes) / units)


def elementwise_cycles(ops: float, num_pes: int) -> int:
    """Cycles for independent per-neuron operations on all PEs: ceil(ops / num_pes)."""
    if ops <= 0:
        return 0
    return math.ceil(ops / num_pes)
