"""Memory traffic shared by the processors: DRAM weight fetches, spills, spike event width."""

from __future__ import annotations

import math
from collections.abc import Sequence

from dse.api.workload import LayerWorkload

KB_BITS = 8192  # bits per KB (1 KB = 1024 bytes)


def weight_bits(layer: LayerWorkload) -> int:
    return layer.num_weights * layer.weight_bits


def network_resident(layers: Sequence[LayerWorkload], capacity_bits: float) -> bool:
    """All weights fit the weight SRAM: loaded once (power-up), no per-inference DRAM."""
    return sum(weight_bits(layer) for layer in layers) <= capacity_bits


def weight_fetch_bits(
    layer_bits: float, capacity_bits: float, loop_order: str, position_tiles: int
) -> float:
    """Weight bits a layer fetches from DRAM per inference when the network is not resident.

    The weight SRAM is a tile buffer. A layer that fits is fetched once. A larger layer:

    * ``weights_outer``: weight tiles (groups of output channels) outermost, every output
      position of a tile computed before the next tile: each weight fetched exactly once
      (inputs are re-read per tile instead);
    * ``positions_outer``: output-position tiles outermost (as many as the output buffer
      needs, ``position_tiles``), every tile needing all the layer's weights: the part that
      fits stays, the rest is fetched again for every tile.

    Never less than the layer's weight bits; falls as the buffer grows until the layer fits.
    """
    if layer_bits <= capacity_bits or loop_order == "weights_outer":
        return float(layer_bits)
    return float(layer_bits + (position_tiles - 1) * (layer_bits - capacity_bits))


def weight_tiles(layer_bits: float, capacity_bits: float) -> int:
    """Weight tiles of a layer in a buffer of ``capacity_bits`` (1 if it fits)."""
    return max(1, math.ceil(layer_bits / capacity_bits)) if layer_bits else 1


def spill_bits(needed_bits: float, capacity_bits: float) -> float:
    """Bits that do not fit a buffer and live in DRAM instead."""
    return max(0.0, needed_bits - capacity_bits)


def tiles(needed_bits: float, capacity_bits: float) -> int:
    """Tiles needed to hold ``needed_bits`` in a buffer of ``capacity_bits`` (>= 1)."""
    return max(1, math.ceil(needed_bits / capacity_bits))


def event_bits(neurons: int, time_window: int) -> int:
    """Bits of one spike event: neuron address + time step."""
    return math.ceil(math.log2(max(neurons, 2))) + math.ceil(math.log2(max(time_window, 2)))
