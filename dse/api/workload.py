"""The contract between algorithm and hardware: what one inference asks of a processor.

The simulator measures, the hardware model prices. A hardware model sees a
:class:`Workload` and never a torch module, so it can be driven from a real simulation,
a saved activity file, or an assumed spike rate (``dse-estimate``).

Activity figures are averages per inference over the evaluated split.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from dse.api.errors import require

LayerKind = Literal["conv", "linear", "pool"]
PoolOp = Literal["max", "avg", ""]
WeightFormat = Literal["float", "uniform", "log", "none"]


@dataclass(frozen=True)
class LayerWorkload:
    """One layer: static shape facts plus measured activity per inference."""

    name: str
    kind: LayerKind
    input_shape: tuple[int, ...]  # (C, H, W) or (features,)
    output_shape: tuple[int, ...]
    kernel: int = 1  # square kernel side; 1 for linear layers
    stride: int = 1
    padding: int = 0
    fan_in: int = 0  # synapses per output neuron (pool: window size)
    fan_out: float = 0.0  # average synapses per input neuron
    num_weights: int = 0  # 0 for pooling
    weight_bits: int = 0  # storage bits per weight; 0 for pooling
    weight_format: WeightFormat = "none"
    neurons: int = 0  # output neurons
    fires: bool = True  # False for the last layer: it only integrates (argmax of potential)
    pool_op: PoolOp = ""  # pool layers: "max" or "avg"; "" for conv / linear
    # measured activity (per inference)
    input_spikes: float = 0.0
    output_spikes: float = 0.0
    synops: float = 0.0  # input spikes x their fan-out, summed over time steps
    time_steps: float = 0.0  # time steps this layer actually used

    @property
    def input_neurons(self) -> int:
        n = 1
        for d in self.input_shape:
            n *= d
        return n

    @property
    def connections(self) -> int:
        """Synapses evaluated by a dense (ANN) pass: neurons x fan-in."""
        return self.neurons * self.fan_in


@dataclass(frozen=True)
class Workload:
    """An ordered list of layers plus the coding facts every hardware model needs."""

    layers: tuple[LayerWorkload, ...]
    coding: str  # "ttfs_log", "rate", ... (the coding plugin's config name)
    time_window: int  # T: time steps of the coding
    accumulator_bits: int  # membrane-potential width used by the simulation
    network: str = ""  # e.g. "vgg16@32x32"
    source: str = "simulation"  # or "assumed spike rate 0.1", "file:...json"

    @property
    def total_synops(self) -> float:
        return sum(layer.synops for layer in self.layers)

    @property
    def total_spikes(self) -> float:
        return sum(layer.output_spikes for layer in self.layers)

    @property
    def total_weights(self) -> int:
        return sum(layer.num_weights for layer in self.layers)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Workload:
        layers = tuple(
            LayerWorkload(
                **{
                    **layer,
                    "input_shape": tuple(layer["input_shape"]),
                    "output_shape": tuple(layer["output_shape"]),
                }
            )
            for layer in data["layers"]
        )
        return cls(**{**data, "layers": layers})

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2))

    @classmethod
    def load(cls, path: str | Path) -> Workload:
        return cls.from_dict(json.loads(Path(path).read_text()))


DEFAULT_SPIKE_RATE = 0.1  # an assumption, not a measurement: see docs/HARDWARE.md
DEFAULT_INPUT_RATE = 1.0  # every pixel of a natural image is nonzero: one spike each


def assumed_activity(
    workload: Workload, spike_rate: float, input_rate: float | None = None
) -> Workload:
    """Fill a static workload's activity from an assumed spike rate.

    ``spike_rate`` r: spikes per neuron per inference of every layer that fires (for TTFS
    the fraction of neurons that fire, at most 1; for rate coding it may reach T).
    ``input_rate``: spikes per input pixel (default 1.0: TTFS codes each nonzero pixel of
    a natural image as one spike). Per layer, in order:
    input_spikes = previous layer's output_spikes (the image's for the first layer),
    output_spikes = r x neurons if the layer fires else 0,
    synops = input_spikes x fan_out (0 for pooling, which has no synapses),
    time_steps = T.
    """
    max_rate = 1.0 if workload.coding.startswith("ttfs") else float(workload.time_window)
    require(
        0 <= spike_rate <= max_rate,
        "spike_rate",
        f"must be in [0, {max_rate:g}] for coding {workload.coding!r}",
        spike_rate,
    )
    in_rate = DEFAULT_INPUT_RATE if input_rate is None else input_rate
    require(0 <= in_rate <= max_rate, "input_rate", f"must be in [0, {max_rate:g}]", in_rate)
    layers = []
    spikes = in_rate * (workload.layers[0].input_neurons if workload.layers else 0)
    for layer in workload.layers:
        out = spike_rate * layer.neurons if layer.fires else 0.0
        synops = 0.0 if layer.kind == "pool" else spikes * layer.fan_out
        layers.append(
            dataclasses.replace(
                layer,
                input_spikes=spikes,
                output_spikes=out,
                synops=synops,
                time_steps=float(workload.time_window),
            )
        )
        spikes = out
    return dataclasses.replace(
        workload,
        layers=tuple(layers),
        source=f"assumed spike rate {spike_rate:g}, input rate {in_rate:g}",
    )
