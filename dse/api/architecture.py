"""Framework-free network descriptions.

A model builder returns an :class:`Architecture`: an ordered tuple of layer specs. From it
the training method builds a torch module, the coding decides whether it can run it, and
the orchestrator derives the workload's static shape facts (fan-in, fan-out, weights)
without touching torch.

Convention: every ``Conv2d`` and ``Linear`` except the last layer is followed by the
coding's activation (a spiking neuron); the last ``Linear`` is the read-out, which does
not fire.
"""

from __future__ import annotations

from dataclasses import dataclass

from dse.api.errors import require
from dse.api.workload import LayerWorkload, WeightFormat, Workload


@dataclass(frozen=True)
class Conv2d:
    out_channels: int
    kernel: int = 3
    stride: int = 1
    padding: int = 1
    batch_norm: bool = False  # folded into the weights before conversion


@dataclass(frozen=True)
class Linear:
    out_features: int


@dataclass(frozen=True)
class MaxPool2d:
    kernel: int = 2
    stride: int = 2


@dataclass(frozen=True)
class AvgPool2d:
    kernel: int = 2
    stride: int = 2


@dataclass(frozen=True)
class Flatten:
    pass


LayerSpec = Conv2d | Linear | MaxPool2d | AvgPool2d | Flatten

POOLS = ("max", "avg")


def pooling(op: str, kernel: int = 2, stride: int = 2) -> MaxPool2d | AvgPool2d:
    """The pooling layer a model's ``pool: max | avg`` key names."""
    if op == "max":
        return MaxPool2d(kernel, stride)
    if op == "avg":
        return AvgPool2d(kernel, stride)
    raise ValueError(f"pool must be one of {POOLS}, not {op!r}")


@dataclass(frozen=True)
class Architecture:
    name: str
    input_shape: tuple[int, int, int]  # (C, H, W)
    num_classes: int
    layers: tuple[LayerSpec, ...]

    def __post_init__(self) -> None:
        require(len(self.layers) > 0, f"model {self.name}", "must have layers", self.layers)
        last = self.layers[-1]
        require(
            isinstance(last, Linear) and last.out_features == self.num_classes,
            f"model {self.name}",
            f"must end with Linear({self.num_classes}) (the read-out layer)",
            last,
        )
        self.shapes()  # validates that every layer fits its input

    def shapes(self) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
        """Input and output shape of every layer, in order."""
        shape: tuple[int, ...] = tuple(self.input_shape)
        out: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
        for i, layer in enumerate(self.layers):
            new = _output_shape(layer, shape, f"model {self.name} layer {i}")
            out.append((shape, new))
            shape = new
        return out

    @property
    def weighted_layers(self) -> list[int]:
        return [i for i, layer in enumerate(self.layers) if isinstance(layer, (Conv2d, Linear))]

    def layer_names(self) -> list[str]:
        """Names of the layers that appear in a workload (all but Flatten)."""
        names, counts = [], {"conv": 0, "linear": 0, "pool": 0}
        for layer in self.layers:
            kind = _kind(layer)
            if kind is None:
                continue
            counts[kind] += 1
            names.append(f"{kind}{counts[kind]}")
        return names


def _kind(layer: LayerSpec) -> str | None:
    if isinstance(layer, Conv2d):
        return "conv"
    if isinstance(layer, Linear):
        return "linear"
    if isinstance(layer, (MaxPool2d, AvgPool2d)):
        return "pool"
    return None


def _output_shape(layer: LayerSpec, shape: tuple[int, ...], where: str) -> tuple[int, ...]:
    if isinstance(layer, Flatten):
        n = 1
        for d in shape:
            n *= d
        return (n,)
    if isinstance(layer, Linear):
        require(len(shape) == 1, where, "Linear needs a flat input (add Flatten)", shape)
        return (layer.out_features,)
    require(len(shape) == 3, where, "needs a (C, H, W) input", shape)
    c, h, w = shape
    if isinstance(layer, Conv2d):
        k, s, p, c_out = layer.kernel, layer.stride, layer.padding, layer.out_channels
    else:
        k, s, p, c_out = layer.kernel, layer.stride, 0, c
    ho, wo = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    require(ho >= 1 and wo >= 1, where, f"kernel {k} does not fit input {shape}", layer)
    return (c_out, ho, wo)


def static_workload(
    arch: Architecture,
    *,
    weight_bits: int,
    weight_format: WeightFormat,
    coding: str,
    time_window: int,
    accumulator_bits: int,
) -> Workload:
    """The workload's shape facts, with all activity fields zero."""
    layers = []
    names = iter(arch.layer_names())
    n_layers = len(arch.layers)
    for i, (layer, (in_shape, out_shape)) in enumerate(
        zip(arch.layers, arch.shapes(), strict=True)
    ):
        kind = _kind(layer)
        if kind is None:
            continue
        in_n = _numel(in_shape)
        out_n = _numel(out_shape)
        if isinstance(layer, Conv2d):
            fan_in = in_shape[0] * layer.kernel**2
            weights = layer.out_channels * fan_in
            kernel, stride, padding = layer.kernel, layer.stride, layer.padding
        elif isinstance(layer, Linear):
            fan_in = in_shape[0]
            weights = layer.out_features * fan_in
            kernel, stride, padding = 1, 1, 0
        else:
            fan_in = layer.kernel**2
            weights = 0
            kernel, stride, padding = layer.kernel, layer.stride, 0
        layers.append(
            LayerWorkload(
                name=next(names),
                kind=kind,  # type: ignore[arg-type]
                input_shape=tuple(in_shape),
                output_shape=tuple(out_shape),
                kernel=kernel,
                stride=stride,
                padding=padding,
                fan_in=fan_in,
                # each connection counted once: padded positions are included (upper bound)
                fan_out=out_n * fan_in / in_n,
                num_weights=weights,
                weight_bits=weight_bits if weights else 0,
                weight_format=weight_format if weights else "none",
                neurons=out_n,
                fires=i != n_layers - 1,
                pool_op=_pool_op(layer),
            )
        )
    h, w = arch.input_shape[1:]
    return Workload(
        layers=tuple(layers),
        coding=coding,
        time_window=time_window,
        accumulator_bits=accumulator_bits,
        network=f"{arch.name}@{h}x{w}",
    )


def _pool_op(layer: LayerSpec) -> str:
    if isinstance(layer, MaxPool2d):
        return "max"
    if isinstance(layer, AvgPool2d):
        return "avg"
    return ""


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n
