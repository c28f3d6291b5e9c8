"""How a layer's loops map onto the PE array, and how often each operand is read.

The array (all three processors) is ``num_pes`` PEs seen as ``c`` rows x ``x`` columns,
output stationary: each PE owns one output neuron (one output channel at one output
position) and keeps its partial sum in its accumulator until the layer's whole fan-in is
in, so partial sums never travel. Columns take ``x = min(position_parallel, positions,
num_pes)`` output positions, rows ``c = num_pes // x`` output channels. Per step of a pass
(one fan-in index: input channel and kernel offset):

* each row reads one weight from the weight SRAM and broadcasts it along its ``x``
  columns (weight reuse across positions): weight reads = K * fan_in * ceil(Q / x) per
  pass over the positions, not one per MAC or synaptic operation;
* each column reads one input (activation or spike event) and broadcasts it down the
  ``c`` rows (input reuse across channels): input reads = Q * fan_in * ceil(K / c).

A linear layer has one position, so ``x = 1`` and the rows take all PEs. A spiking layer
is event driven: a step whose ``x`` inputs carry no spike is skipped. With occupancy
``rho`` (the fraction of dense synapse evaluations that carry a spike, from the measured
synaptic operations) a step is needed with probability ``1 - (1 - rho)**x``, which
scales cycles and weight reads (between synops / x and synops); spike events are read
once per row group, so event reads = synops * ceil(K / c) / K.

Loop order across the memory hierarchy (``loop_order``) decides DRAM weight traffic when
the network's weights do not all fit the weight SRAM (see _memory.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from dse.api.workload import LayerWorkload

LoopOrder = Literal["weights_outer", "positions_outer"]
LOOP_ORDERS: tuple[str, ...] = ("weights_outer", "positions_outer")


def output_positions(layer: LayerWorkload) -> int:
    """Output positions of a conv layer (H x W); 1 for a linear layer."""
    if layer.kind == "conv" and len(layer.output_shape) == 3:
        return max(1, layer.output_shape[1] * layer.output_shape[2])
    return 1


def output_channels(layer: LayerWorkload) -> int:
    """Output channels (conv) or output features (linear)."""
    if layer.kind == "conv":
        return max(1, layer.output_shape[0])
    return max(1, layer.neurons)


@dataclass(frozen=True)
class ArrayMapping:
    """One weighted layer on the array: spatial unrolling and loop trip counts."""

    channels: int  # K
    positions: int  # Q
    fan_in: int  # steps of a pass
    rows: int  # c: output channels in parallel
    cols: int  # x: output positions in parallel
    channel_groups: int  # ceil(K / c)
    position_groups: int  # ceil(Q / x)

    @property
    def dense_steps(self) -> int:
        """Array steps of a dense pass over the layer (every step busy)."""
        return self.channel_groups * self.position_groups * self.fan_in

    @property
    def dense_weight_reads(self) -> int:
        """Weights read from the weight SRAM by a dense pass (>= the layer's weights)."""
        return self.channels * self.fan_in * self.position_groups

    @property
    def dense_input_reads(self) -> int:
        """Inputs read from the input buffer by a dense pass."""
        return self.positions * self.fan_in * self.channel_groups

    def step_occupancy(self, rho: float) -> float:
        """Probability that a step has a spike among its ``x`` inputs."""
        rho = min(max(rho, 0.0), 1.0)
        return 1.0 - (1.0 - rho) ** self.cols


def map_layer(layer: LayerWorkload, num_pes: int, position_parallel: int) -> ArrayMapping:
    """Spatial unrolling of a conv or linear layer on ``num_pes`` PEs."""
    k, q = output_channels(layer), output_positions(layer)
    x = max(1, min(position_parallel, q, num_pes))
    c = max(1, num_pes // x)
    return ArrayMapping(
        channels=k,
        positions=q,
        fan_in=max(1, layer.fan_in),
        rows=c,
        cols=x,
        channel_groups=math.ceil(k / c),
        position_groups=math.ceil(q / x),
    )


def spike_occupancy(layer: LayerWorkload, passes: float) -> float:
    """rho: synaptic operations per dense synapse evaluation per pass (0..1)."""
    dense = layer.connections * passes
    return min(1.0, layer.synops / dense) if dense > 0 else 0.0


def elementwise_cycles(ops: float, num_pes: int) -> int:
    """Cycles for independent per-neuron operations on all PEs: ceil(ops / num_pes)."""
    if ops <= 0:
        return 0
    return math.ceil(ops / num_pes)
