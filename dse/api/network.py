"""The trained network as a spike coding sees it: layers, folded weights, thresholds, activity.

A coding's ``convert`` turns the trained ANN (``TrainedNetwork.module``, a :class:`Network`
for every built-in training method) into a :class:`SpikingNetwork`: per architecture
layer, its weight and bias with batch norm folded in, quantized, in units of the firing
threshold theta (:func:`convert_layers`). Its ``simulate`` counts what the SNN does, per
sample, with :func:`synaptic_events`, :func:`pool_events` and :func:`per_sample`, and
sums the batches into a ``SimulationResult`` with :class:`ActivityMeter`. The meaning of
every ``LayerActivity`` field per layer kind: docs/PLUGINS.md, "The activity a coding
reports".

Conventions (``dse/api/architecture.py``): every Conv2d and Linear except the last is
followed by the activation (the coding's spiking neuron in CAT, ReLU in standard
training); the last one is the read-out, which does not fire (the class is the argmax of
its potential). Tensors of a converted network are float64.

The training loop lives with the training methods (``dse.builtin.training``); this
module is what a training method builds and what a coding reads.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dse.api.architecture import (
    Architecture,
    AvgPool2d,
    Conv2d,
    Flatten,
    LayerSpec,
    Linear,
    MaxPool2d,
)
from dse.api.interfaces import (
    Accumulator,
    AccumulatorActivity,
    LayerActivity,
    SimulationResult,
    Split,
    TrainedNetwork,
    WeightQuantizer,
)

__all__ = [
    "FLOAT32_EXACT_BITS",
    "PIXEL_FRAC_BITS",
    "ActivityMeter",
    "AnalogPixels",
    "LayerParams",
    "Network",
    "SimulatedBatch",
    "SpikeActivation",
    "SpikingNetwork",
    "WeightedLayer",
    "balance_thresholds",
    "convert_layers",
    "count_sum",
    "firing_scales",
    "fold_batch_norm",
    "layer_op",
    "per_sample",
    "pool_events",
    "rescale_activations",
    "synaptic_events",
]

# Analog pixels enter the first layer as unsigned fixed point with 8 fractional bits:
# the 8-bit pixel depth of every dataset here (CIFAR, Tiny-ImageNet: uint8).
PIXEL_FRAC_BITS = 8
# float32 holds every integer below 2^24 exactly (24-bit significand).
FLOAT32_EXACT_BITS = 24
_BN_EPS = 1e-5  # torch.nn.BatchNorm2d default eps


# --------------------------------------------------------------------------- layers


@dataclass
class LayerParams:
    """One architecture layer with plain tensors: its spec, and for a conv / linear its
    folded weight ((out, in, k, k) or (out, in)) and bias ((out,)); None for pooling and
    Flatten. In a :class:`SpikingNetwork` both are in units of the threshold theta."""

    spec: LayerSpec
    weight: torch.Tensor | None = None
    bias: torch.Tensor | None = None


@dataclass
class SpikingNetwork:
    """A converted SNN (what ``SpikeCoding.convert`` returns, ``simulate`` reads).

    ``layers``: one :class:`LayerParams` per architecture layer, quantized weights and
    biases in units of theta (potential / theta), float64. ``info``: what conversion
    decided, e.g. ``threshold_scales`` of a balanced standard network.
    """

    architecture: Architecture
    layers: list[LayerParams]
    time_window: int
    info: dict[str, Any] = field(default_factory=dict)


def layer_op(
    spec: LayerSpec, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None
) -> torch.Tensor:
    """A conv / linear layer's linear operation on ``x`` (no bias unless one is given)."""
    if isinstance(spec, Conv2d):
        return F.conv2d(x, weight, bias, spec.stride, spec.padding)
    if not isinstance(spec, Linear):
        raise TypeError(f"layer_op needs a Conv2d or Linear spec, not {spec!r}")
    return F.linear(x, weight, bias)


# --------------------------------------------------------------------------- the ANN


class WeightedLayer(nn.Module):
    """Conv2d or Linear with optional batch norm and optional weight quantizer.

    With a quantizer and batch norm (CAT), the batch norm is folded into the weights in
    every forward pass (Jacob et al., CVPR 2018): batch statistics while training (unless
    ``batch_statistics`` is False: then the running statistics, frozen), running
    statistics in eval mode, and the *folded* weights are quantized, so eval mode computes
    exactly what the converted SNN computes. Without a quantizer batch norm is the usual
    layer after the convolution and is folded only at export.

    With a quantizer, an ``accumulator`` (the coding's fixed-point sum,
    ``SpikeCoding.accumulator``) replaces the float conv / linear, so the potentials are
    the SNN's even where its accumulator truncates or saturates.
    """

    def __init__(
        self,
        spec: Conv2d | Linear,
        in_features: int,
        quantizer: WeightQuantizer | None,
        accumulator: Accumulator | None = None,
    ) -> None:
        super().__init__()
        self.spec = spec
        self.quantizer = quantizer
        self.accumulator = accumulator
        if isinstance(spec, Conv2d):
            layer: nn.Module = nn.Conv2d(
                in_features, spec.out_channels, spec.kernel, spec.stride, spec.padding
            )
            self.bn = nn.BatchNorm2d(spec.out_channels, eps=_BN_EPS) if spec.batch_norm else None
        else:
            layer = nn.Linear(in_features, spec.out_features)
            self.bn = None
        self.weight = layer.weight
        self.bias = layer.bias
        # False: batch norm folds with its running statistics in training too (frozen, as
        # in the late phase of Jacob et al.'s quantization-aware training), so the weights
        # training quantizes are the ones the converted SNN gets.
        self.batch_statistics = True

    def _op(self, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
        return layer_op(self.spec, x, w, b)

    def _sum(self, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """The quantized layer's pre-activation: the coding's accumulator when it has one."""
        if self.accumulator is None:
            return self._op(x, w, b)
        return self.accumulator(self.spec, x, w, b)

    def _quantized(self, w: torch.Tensor) -> torch.Tensor:
        assert self.quantizer is not None
        if self.training:
            return self.quantizer.fake_quantize(w)
        return self.quantizer.quantize(w)  # exact levels (w + (q - w) may round)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.quantizer is None:
            y = self._op(x, self.weight, self.bias)
            return self.bn(y) if self.bn is not None else y
        if self.bn is None:
            return self._sum(x, self._quantized(self.weight), self.bias)
        bn = self.bn
        if self.training and self.batch_statistics:
            y = self._op(x, self.weight, self.bias)
            var, mean = torch.var_mean(y, dim=(0, 2, 3), unbiased=False)  # one pass
            with torch.no_grad():  # the running statistics nn.BatchNorm2d would keep
                n = y.numel() / y.shape[1]
                m = bn.momentum if bn.momentum is not None else 0.1
                bn.running_mean.mul_(1 - m).add_(m * mean.detach())
                bn.running_var.mul_(1 - m).add_(m * var.detach() * n / max(n - 1, 1))
                bn.num_batches_tracked.add_(1)
        else:
            mean, var = bn.running_mean, bn.running_var
        w, b = _fold(self.weight, self.bias, bn.weight, bn.bias, mean, var, bn.eps)
        return self._sum(x, self._quantized(w), b)

    def folded(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Weight and bias with batch norm (running statistics) folded in; not quantized."""
        with torch.no_grad():
            if self.bn is None:
                return self.weight.detach().clone(), self.bias.detach().clone()
            bn = self.bn
            return _fold(
                self.weight, self.bias, bn.weight, bn.bias, bn.running_mean, bn.running_var, bn.eps
            )


def _fold(
    w: torch.Tensor,
    b: torch.Tensor,
    gamma: torch.Tensor,
    beta: torch.Tensor,
    mean: torch.Tensor,
    var: torch.Tensor,
    eps: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BN(conv(x, w) + b) = conv(x, w * g) + (b - mean) * g + beta, g = gamma / sqrt(var + eps)."""
    g = gamma / torch.sqrt(var + eps)
    return w * g.reshape(-1, 1, 1, 1), (b - mean) * g + beta


class Network(nn.Module):
    """A torch module built from an Architecture: (N, C, H, W) in [0, 1] -> class logits.

    ``input_encoder`` (optional) maps the pixels to what the SNN's input layer sees (e.g.
    TTFS-encoded pixels) and ``accumulator`` (optional, ``SpikeCoding.accumulator``: called
    with first=True for the first weighted layer) gives each quantized weighted layer the
    SNN's fixed-point sum, so that a CAT network computes exactly the SNN's function. The
    input is cast to the parameters' dtype (CAT networks are returned in float64 so their
    sums of powers of two are exact).
    """

    def __init__(
        self,
        arch: Architecture,
        activation: Callable[[], nn.Module],
        quantizer: WeightQuantizer | None = None,
        input_encoder: nn.Module | None = None,
        accumulator: Callable[[bool], Accumulator | None] | None = None,
    ) -> None:
        super().__init__()
        self.arch = arch
        self.input_encoder = input_encoder if input_encoder is not None else nn.Identity()
        self.layers = nn.ModuleList()
        self.fires: list[bool] = []
        last = len(arch.layers) - 1
        first = True  # the first weighted layer sees the input encoder's output
        for i, (spec, (in_shape, _)) in enumerate(zip(arch.layers, arch.shapes(), strict=True)):
            if isinstance(spec, (Conv2d, Linear)):
                acc = accumulator(first) if accumulator is not None else None
                self.layers.append(WeightedLayer(spec, in_shape[0], quantizer, acc))
                self.fires.append(i != last)
                first = False
            elif isinstance(spec, MaxPool2d):
                self.layers.append(nn.MaxPool2d(spec.kernel, spec.stride))
                self.fires.append(False)
            elif isinstance(spec, AvgPool2d):
                self.layers.append(nn.AvgPool2d(spec.kernel, spec.stride))
                self.fires.append(False)
            elif isinstance(spec, Flatten):
                self.layers.append(nn.Flatten())
                self.fires.append(False)
            else:  # pragma: no cover - Architecture only holds the specs above
                raise TypeError(f"unknown layer spec {spec!r}")
        self.activations = nn.ModuleList(activation() for _ in self.layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.trace(x)[-1]

    def trace(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Output of every architecture layer (after its activation when it fires)."""
        if x.dtype == torch.uint8:  # large image sets are kept as uint8 in [0, 255]
            x = x.to(torch.float32) / 255.0
        x = self.input_encoder(x.to(self.layers[-1].weight.dtype))
        outs = []
        for layer, act, fires in zip(self.layers, self.activations, self.fires, strict=True):
            x = layer(x)
            if fires:
                x = act(x)
            outs.append(x)
        return outs

    def export(self) -> list[LayerParams]:
        """Plain float64 tensors per architecture layer; batch norm folded, not quantized."""
        out = []
        for spec, layer in zip(self.arch.layers, self.layers, strict=True):
            if isinstance(layer, WeightedLayer):
                w, b = layer.folded()
                out.append(LayerParams(spec, w.to(torch.float64), b.to(torch.float64)))
            else:
                out.append(LayerParams(spec))
        return out


def fold_batch_norm(module: Network) -> list[LayerParams]:
    """The module's layers with batch norm folded into conv weight and bias (float64)."""
    return module.export()


# --------------------------------------------------------------------------- thresholds


def firing_scales(
    module: Network, calibration: Split, *, percentile: float, samples: int
) -> list[float]:
    """Per weighted layer, the ``percentile`` of its positive activations on the first
    ``samples`` calibration images (Diehl et al. 2015; Rueckauer et al. 2017): the value
    that should sit at the firing threshold. 1.0 for the read-out (it does not fire) and
    for a layer that is never positive."""
    from dse.api.data import to_float

    was_training = module.training
    module.eval()
    with torch.no_grad():
        outs = module.trace(to_float(calibration.x[:samples]))
    module.train(was_training)
    weighted = [i for i, layer in enumerate(module.layers) if isinstance(layer, WeightedLayer)]
    scales = []
    for i in weighted:
        act = outs[i].detach().to(torch.float64).flatten()
        act = act[act > 0]
        scale = float(np.percentile(act.numpy(), percentile)) if act.numel() else 1.0
        scales.append(scale if i != weighted[-1] and scale > 0 else 1.0)
    return scales


def balance_thresholds(
    module: Network,
    params: list[LayerParams],
    calibration: Split,
    *,
    percentile: float,
    samples: int,
    power_of_two: bool,
) -> tuple[list[LayerParams], list[float]]:
    """Data-based weight normalisation of exported parameters (standard conversion).

    lambda_l = :func:`firing_scales`. W_l <- W_l * lambda_{l-1} / lambda_l, b_l <- b_l /
    lambda_l (lambda_0 = 1 for pixels; the read-out keeps lambda_L = 1), so every firing
    layer's activations are expressed in units of its threshold. With ``power_of_two``
    each lambda is rounded to a power of two (in the log domain), so rescaled log weights
    stay on power-of-two levels. Returns the new parameters and the lambdas used.
    """
    lambdas = firing_scales(module, calibration, percentile=percentile, samples=samples)
    if power_of_two:
        lambdas = [2.0 ** round(math.log2(lam)) for lam in lambdas]
    weighted = [i for i, p in enumerate(params) if p.weight is not None]
    new = list(params)
    prev = 1.0
    for i, lam in zip(weighted, lambdas, strict=True):
        p = params[i]
        assert p.weight is not None and p.bias is not None
        new[i] = LayerParams(p.spec, p.weight * (prev / lam), p.bias / lam)
        prev = lam
    return new, lambdas


def rescale_activations(module: Network, scales: list[float], threshold: float) -> None:
    """Rescale a network in place so that weighted layer l's output is multiplied by
    threshold / scales[l] (the read-out's scale stays 1): the same function up to those
    factors, with each layer's ``firing_scales`` value moved onto the threshold.

    Each layer's weight is divided by the factor its input was multiplied by; the output
    factor goes into batch norm's affine parameters (its statistics stay valid) or, for a
    layer without batch norm, into weight and bias.
    """
    weighted = [layer for layer in module.layers if isinstance(layer, WeightedLayer)]
    previous = 1.0
    with torch.no_grad():
        for k, (layer, scale) in enumerate(zip(weighted, scales, strict=True)):
            factor = 1.0 if k == len(weighted) - 1 else threshold / scale
            layer.weight.div_(previous)
            if layer.bn is not None:
                layer.bn.weight.mul_(factor)
                layer.bn.bias.mul_(factor)
            else:
                layer.weight.mul_(factor)
                layer.bias.mul_(factor)
            previous = factor


def convert_layers(
    ann: TrainedNetwork,
    quantizer: WeightQuantizer,
    calibration: Split,
    *,
    threshold: float,
    percentile: float,
    calibration_samples: int,
    power_of_two_scales: bool,
) -> tuple[list[LayerParams], dict[str, Any]]:
    """The SNN's layers: batch norm folded, thresholds balanced (standard-trained ANNs
    only), weights quantized, every layer in units of the threshold. Used by ``convert``.

    CAT networks already fire at ``threshold``: potentials are divided by it (first
    layer's weights and every bias / theta; the read-out's argmax is unchanged by a
    positive scale). Keep theta a power of two so log weights stay powers of two.
    Standard (ReLU) networks are normalised so each layer's ``percentile`` activation on
    ``calibration_samples`` images of ``calibration`` maps to the threshold
    (:func:`balance_thresholds`); the quantizer is applied *after* normalisation.
    Returns the layers and what was decided (``threshold_scales``: the lambdas).
    """
    module = ann.module
    if not isinstance(module, Network):
        raise TypeError(
            "convert needs a dse.network.Network module (what the built-in training methods "
            f"return), not {type(module).__name__}"
        )
    params = fold_batch_norm(module)
    info: dict[str, Any] = {}
    if not ann.conversion_aware:
        params, lambdas = balance_thresholds(
            module,
            params,
            calibration,
            percentile=percentile,
            samples=calibration_samples,
            power_of_two=power_of_two_scales,
        )
        info["threshold_scales"] = lambdas
    else:
        first = next(i for i, p in enumerate(params) if p.weight is not None)
        scaled = []
        for i, p in enumerate(params):
            if p.weight is None:
                scaled.append(p)
                continue
            assert p.bias is not None
            w = p.weight / threshold if i == first else p.weight
            scaled.append(LayerParams(p.spec, w, p.bias / threshold))
        params = scaled
    out = []
    for p in params:
        if p.weight is None:
            out.append(p)
        else:
            out.append(LayerParams(p.spec, quantizer.quantize(p.weight), p.bias))
    return out, info


# --------------------------------------------------------------------------- CAT pieces


class _StraightThrough(torch.autograd.Function):
    """Forward: exactly ``values(x)``; backward: the gradient of x clipped to [0, theta]."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, x: torch.Tensor, values: Callable[[torch.Tensor], torch.Tensor], theta: float
    ) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.theta = theta
        return values(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return torch.where((x > 0) & (x < ctx.theta), grad, 0.0), None, None


class SpikeActivation(nn.Module):
    """A CAT activation: forward exactly ``values(x)`` (the values a spiking neuron's
    output can take, e.g. ``SpikeCoding``'s quantizer), backward the straight-through
    gradient of the clipped identity (1 for 0 < x < ``threshold``, else 0).

    One autograd function: no float rounding of a ``x + (q - x).detach()`` form, and only
    ``x`` is kept for the backward pass.
    """

    def __init__(
        self, values: Callable[[torch.Tensor], torch.Tensor], threshold: float, name: str = ""
    ) -> None:
        super().__init__()
        self.values = values
        self.threshold = threshold
        self.name = name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() and x.requires_grad:
            return _StraightThrough.apply(x, self.values, self.threshold)
        return self.values(x)

    def extra_repr(self) -> str:
        return f"{self.name}, threshold={self.threshold}" if self.name else f"{self.threshold}"


class AnalogPixels(nn.Module):
    """Pixels rounded to the first layer's fixed-point input (``PIXEL_FRAC_BITS``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = 2.0**PIXEL_FRAC_BITS
        return torch.round(x * scale) / scale


# --------------------------------------------------------------------------- activity


def count_sum(x: torch.Tensor, dim: int | tuple[int, ...]) -> torch.Tensor:
    """Exact sum (float64) of nonnegative integer-valued counts over ``dim``; e.g. spikes
    per sample: ``count_sum(spikes, tuple(range(1, spikes.dim())))``. float32 is ~3x
    faster and exact when its result is below 2^24: partial sums only grow, so none
    passed it."""
    y = x.sum(dim)
    if y.numel() and float(y.max()) >= 2.0**FLOAT32_EXACT_BITS:
        y = x.sum(dim, dtype=torch.float64)
    return y.to(torch.float64)


def per_sample(counts: torch.Tensor) -> torch.Tensor:
    """Per sample ((N,), float64, exact): the total of nonnegative integer ``counts``
    (N, ...), e.g. the spikes a layer emitted."""
    return count_sum(counts, tuple(range(1, counts.dim())))


def synaptic_events(p: LayerParams, spikes: torch.Tensor) -> torch.Tensor:
    """A conv / linear layer's synaptic operations per sample ((N,), float64): the
    (input spike, output neuron) pairs, ``spikes`` holding the spikes per input neuron
    (N, C, H, W) or (N, features), summed over time steps.

    For a conv, a spike at input position (y, x) reaches every output position whose
    receptive field holds it (the same for every input channel; padding positions hold
    no spike), in every output channel: spikes summed over channels, times that reach.
    """
    n = spikes.shape[0]
    if isinstance(p.spec, Conv2d):
        per_position = count_sum(spikes, 1).reshape(n, -1)
        reach = _reach(p.spec.kernel, p.spec.stride, p.spec.padding, *spikes.shape[2:])
        return (per_position @ reach) * p.spec.out_channels
    if not isinstance(p.spec, Linear):
        raise TypeError(f"synaptic_events counts conv / linear layers, not {p.spec!r}")
    return count_sum(spikes.reshape(n, -1), 1) * p.spec.out_features


@functools.lru_cache(maxsize=64)
def _reach(kernel: int, stride: int, padding: int, height: int, width: int) -> torch.Tensor:
    """Per input position (flattened): output positions whose receptive field holds it."""
    with torch.enable_grad():
        x = torch.ones(1, 1, height, width, dtype=torch.float64, requires_grad=True)
        ones = torch.ones(1, 1, kernel, kernel, dtype=torch.float64)
        F.conv2d(x, ones, None, stride, padding).sum().backward()
    assert x.grad is not None
    return x.grad.reshape(-1)


def pool_events(spec: MaxPool2d | AvgPool2d, spikes: torch.Tensor) -> torch.Tensor:
    """A pooling layer's synaptic operations per sample ((N,), float64): the input spikes
    that fall inside some window (the comparisons), ``spikes`` per input neuron."""
    k, s = spec.kernel, spec.stride
    per_window = F.avg_pool2d(spikes, k, s, divisor_override=1)  # window sums: exact
    return count_sum(per_window.reshape(spikes.shape[0], -1), 1)


@dataclass
class SimulatedBatch:
    """What a simulation measured on one batch of N samples.

    ``activity``: (workload layers, N, 4) float64, per layer and sample the fields of
    ``LayerActivity`` in order (input_spikes, output_spikes, synops, time_steps), one row
    per conv, linear and pooling layer (none for Flatten). ``lost``: (N, 2) float64,
    products truncated and neurons saturated by a fixed-point accumulator; None when the
    coding does not measure them.
    """

    predictions: torch.Tensor  # (N,) int64 classes (the read-out's argmax)
    activity: torch.Tensor
    lost: torch.Tensor | None = None


class ActivityMeter:
    """Sums the batches of one ``simulate`` call into a ``SimulationResult``: accuracy,
    predictions, activity averaged per inference and, with ``accumulator``, what the
    fixed point lost per inference (zeros when no batch reported any)."""

    def __init__(self, *, accumulator: bool = False) -> None:
        self._accumulator = accumulator
        self._predictions: list[torch.Tensor] = []
        self._activity: torch.Tensor | None = None
        self._lost = torch.zeros(2, dtype=torch.float64)

    def add(self, batch: SimulatedBatch) -> None:
        self._predictions.append(batch.predictions)
        sums = batch.activity.sum(1)  # (layers, 4)
        self._activity = sums if self._activity is None else self._activity + sums
        if batch.lost is not None:
            self._lost += batch.lost.sum(0)

    def result(self, split: Split) -> SimulationResult:
        """The result for ``split``, every sample of which was added, in order."""
        n = max(len(split), 1)
        if self._predictions:
            predictions = torch.cat(self._predictions).numpy()
        else:
            predictions = np.zeros(0, dtype=np.int64)
        accuracy = 100.0 * float((torch.as_tensor(predictions) == split.y).float().mean())
        activity = []
        if self._activity is not None:
            for row in (self._activity / n).tolist():
                activity.append(LayerActivity(row[0], row[1], row[2], row[3]))
        lost = AccumulatorActivity(*(self._lost / n).tolist()) if self._accumulator else None
        return SimulationResult(accuracy, predictions, activity, lost)
