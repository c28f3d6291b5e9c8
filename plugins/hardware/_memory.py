"""Memory sizing shared by the processors: weight residency, spills, spike event width."""

from __future__ import annotations

import math
from collections.abc import Sequence

from dse.workload import LayerWorkload

KB_BITS = 8192  # bits per KB (1 KB = 1024 bytes)


def weight_bits(layer: LayerWorkload) -> int:
    return layer.num_weights * layer.weight_bits


def streamed_weight_bits(layers: Sequence[LayerWorkload], capacity_bits: float) -> list[float]:
    """Weight bits each layer fetches from DRAM per inference.

    If the whole network's weights fit the weight SRAM they stay resident (loaded once,
    not per inference): no DRAM traffic. Otherwise layers are pinned greedily in layer
    order while they fit; every other layer streams its weights from DRAM once per
    inference (channel-major order: each weight is fetched once). A layer whose weights
    exceed the SRAM on their own is never pinned, so it always pays.
    """
    sizes = [weight_bits(layer) for layer in layers]
    if sum(sizes) <= capacity_bits:
        return [0.0] * len(layers)
    out, used = [], 0.0
    for size in sizes:
        if size and used + size <= capacity_bits:
            used += size
            out.append(0.0)
        else:
            out.append(float(size))
    return out


def spill_bits(needed_bits: float, capacity_bits: float) -> float:
    """Bits that do not fit a buffer and live in DRAM instead."""
    return max(0.0, needed_bits - capacity_bits)


def event_bits(neurons: int, time_window: int) -> int:
    """Bits of one spike event: neuron address + time step."""
    return math.ceil(math.log2(max(neurons, 2))) + math.ceil(math.log2(max(time_window, 2)))
