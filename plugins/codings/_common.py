"""Pieces both spike codings share: the converted network, fixed point, event counting."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from dse.architecture import Architecture, AvgPool2d, Conv2d, Linear, MaxPool2d
from dse.builtin.training._network import LayerParams, Network, balance_thresholds, fold_batch_norm
from dse.interfaces import Split, TrainedNetwork, WeightQuantizer

# Analog pixels enter the first layer as unsigned fixed point with 8 fractional bits:
# the 8-bit pixel depth of every dataset here (CIFAR, Tiny-ImageNet: uint8).
PIXEL_FRAC_BITS = 8
# float64 holds every integer below 2^53 exactly (IEEE 754 binary64, 53-bit significand).
FLOAT64_EXACT_BITS = 53
# float32 holds every integer below 2^24 exactly (24-bit significand).
FLOAT32_EXACT_BITS = 24
# At most this many float32 parts per exact integer op, then float64 (our choice). Measured
# on 2 cores, a 16->32 3x3 conv of 1024 8x8 images: float64 48 ms; float32 channels-last
# 3.8 / 9.0 / 12.2 ms for 1 / 2 / 3 parts (stacked output channels).
MAX_FLOAT32_PARTS = 3


@dataclass
class SpikingNetwork:
    """A converted SNN: per architecture layer, quantized weights and biases in units of
    the threshold theta (potential / theta), float64 tensors."""

    architecture: Architecture
    layers: list[LayerParams]
    time_window: int
    info: dict[str, Any] = field(default_factory=dict)


class AnalogPixels(nn.Module):
    """Pixels rounded to the first layer's fixed-point input (8 fractional bits)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = 2.0**PIXEL_FRAC_BITS
        return torch.round(x * scale) / scale


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
    """Fold batch norm, balance thresholds (standard-trained ANNs only), quantize, and
    express every layer in units of the threshold.

    CAT networks already fire at ``threshold``: potentials are divided by it (first
    layer's weights and every bias / theta; the read-out's argmax is unchanged by a
    positive scale). Keep theta a power of two so log weights stay powers of two.
    Standard (ReLU) networks are normalised so each layer's ``percentile`` activation
    maps to the threshold; the quantizer is applied *after* normalisation.
    """
    module = ann.module
    if not isinstance(module, Network):
        raise TypeError("convert needs a network built by dse.builtin.training (a Network module)")
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


def weighted_op(
    p: LayerParams, x: torch.Tensor, w: torch.Tensor, bias: torch.Tensor | None = None
) -> torch.Tensor:
    """The layer's linear operation (conv or linear), without bias unless one is given."""
    if isinstance(p.spec, Conv2d):
        return F.conv2d(x, w, bias, p.spec.stride, p.spec.padding)
    return F.linear(x, w, bias)


def synaptic_events(p: LayerParams, active: torch.Tensor) -> torch.Tensor:
    """Per sample (float64): number of (input spike, output neuron) pairs, i.e. real
    synaptic events; ``active`` counts the spikes per input neuron.

    For a conv, a spike at input position (y, x) reaches every output position whose
    receptive field holds it (the same for every input channel; padding positions hold
    no spike), in every output channel: spikes summed over channels, times that reach.
    """
    n = active.shape[0]
    if isinstance(p.spec, Conv2d):
        per_position = count_sum(active, 1).reshape(n, -1)
        reach = _reach(p.spec.kernel, p.spec.stride, p.spec.padding, *active.shape[2:])
        return (per_position @ reach) * p.spec.out_channels
    assert isinstance(p.spec, Linear)
    return count_sum(active.reshape(n, -1), 1) * p.spec.out_features


def count_sum(x: torch.Tensor, dim: int | tuple[int, ...]) -> torch.Tensor:
    """Exact sum (float64) of nonnegative integer-valued counts. float32 is ~3x faster
    and exact when its result is below 2^24: partial sums only grow, so none passed it."""
    y = x.sum(dim)
    if y.numel() and float(y.max()) >= 2.0**FLOAT32_EXACT_BITS:
        y = x.sum(dim, dtype=torch.float64)
    return y.to(torch.float64)


@functools.lru_cache(maxsize=64)
def _reach(kernel: int, stride: int, padding: int, height: int, width: int) -> torch.Tensor:
    """Per input position (flattened): output positions whose receptive field holds it."""
    with torch.enable_grad():
        x = torch.ones(1, 1, height, width, dtype=torch.float64, requires_grad=True)
        ones = torch.ones(1, 1, kernel, kernel, dtype=torch.float64)
        F.conv2d(x, ones, None, stride, padding).sum().backward()
    assert x.grad is not None
    return x.grad.reshape(-1)


def pool_events(spec: MaxPool2d | AvgPool2d, active: torch.Tensor) -> torch.Tensor:
    """Per sample (float64): input spikes that fall inside some pooling window."""
    k, s = spec.kernel, spec.stride
    per_window = F.avg_pool2d(active, k, s, divisor_override=1)  # window sums: exact
    return count_sum(per_window.reshape(active.shape[0], -1), 1)


def float32_is_ieee() -> bool:
    """True when torch computes float32 convs and matmuls in IEEE float32 (the default):
    through oneDNN, with no TF32 / bf16 shortcuts: the exactness bounds below need it."""
    if torch.get_float32_matmul_precision() != "highest":
        return False
    mkldnn = torch.backends.mkldnn
    # Without oneDNN torch may pick Winograd (NNPACK) convolutions, which are not exact.
    if not mkldnn.is_available() or not mkldnn.enabled:
        return False
    for obj in (mkldnn, getattr(mkldnn, "conv", None), getattr(mkldnn, "matmul", None)):
        if getattr(obj, "fp32_precision", "none") not in ("none", "ieee"):
            return False
    return True


class IntegerOp:
    """A layer's conv / linear of integer-valued inputs 0 <= x <= ``x_max`` with
    integer-valued weights, computed exactly and fast.

    float32 adds integers exactly while every partial sum stays below 2^24, whatever the
    summation order; |partial sum| <= x_max * sum|w| over one output's fan-in bounds them
    all. When that bound is too large, the weights are split into base-2^k digits
    w = sum_j d_j 2^(z + k j) (z: the power of two common to all weights), each digit's
    bound below 2^24; the digit kernels are stacked along the output channels (one conv
    call) and recombined exactly in float64. float64 (exact below 2^53) is the fallback.
    An integer ``bias`` (one per output) is added inside the op (the conv adds it in the
    same pass). Calling it returns exact integers: float32 when one part suffices, else
    float64.
    """

    def __init__(
        self, p: LayerParams, w_int: torch.Tensor, x_max: float, bias: torch.Tensor | None = None
    ) -> None:
        self.p = p
        self.out = w_int.shape[0]
        a = w_int.abs().to(torch.float64)
        self.bound = float(x_max * a.reshape(self.out, -1).sum(1).max()) if a.numel() else 0.0
        self.bias = None if bias is None else bias.reshape(-1).to(torch.float64)
        if self.bias is not None:
            self.bound += float(self.bias.abs().max())
        limit = 2.0**FLOAT32_EXACT_BITS
        self.scales: list[float] = []
        self.weight = w_int.to(torch.float64)  # the float64 fallback
        if not float32_is_ieee() or self.bound >= 2.0**FLOAT64_EXACT_BITS:
            return
        if self.bound < limit:
            self.weight, self.scales = w_int.to(torch.float32), [1.0]
            if self.bias is not None:
                self.bias = self.bias.to(torch.float32)
            return
        ai = a.to(torch.int64)
        nonzero = ai[ai > 0]
        z = int(torch.log2((nonzero & -nonzero).to(torch.float64)).min())  # trailing zeros
        ai = ai >> z
        bits = int(ai.max()).bit_length()
        sign = torch.sign(w_int).to(torch.float32)
        bias_max = float(self.bias.abs().max()) if self.bias is not None else 0.0
        for parts in range(2, MAX_FLOAT32_PARTS + 1):
            k = -(-bits // parts)
            digits = [(ai >> (k * j)) & ((1 << k) - 1) for j in range(parts)]
            sums = [float(d.reshape(self.out, -1).sum(1).max()) * x_max for d in digits]
            # Part j's products are multiples of 2^(z+kj): with its digits scaled by that,
            # its sums stay exact below 2^(24+z+kj). Part 0 also adds the (integer) bias.
            sums[0] = sums[0] * 2.0**z + bias_max
            if max(sums) < limit:
                scaled = [
                    sign * d.to(torch.float32) * 2.0 ** (z + k * j) for j, d in enumerate(digits)
                ]
                self.weight = torch.cat(scaled)
                self.scales = [2.0 ** (z + k * j) for j in range(parts)]
                if self.bias is not None:  # into part 0's conv; zero for the others
                    zeros = torch.zeros((parts - 1) * self.out, dtype=torch.float64)
                    self.bias = torch.cat([self.bias, zeros]).to(torch.float32)
                return

    def __call__(self, x: torch.Tensor, *, rounded: bool = False) -> torch.Tensor:
        """Exact integer result. ``rounded`` with two parts: their float32 sum instead,
        the exact result correctly rounded (one rounding, monotone): exact wherever the
        result is below 2^24, and never on the wrong side of a power of two."""
        if not self.scales:
            return weighted_op(self.p, x.to(torch.float64), self.weight, self.bias)
        if x.dim() == 4:  # oneDNN's float32 conv is ~3x faster in channels-last (measured)
            x = x.to(torch.float32, memory_format=torch.channels_last)
        if len(self.scales) == 1:
            return weighted_op(self.p, x.to(torch.float32), self.weight, self.bias)
        y = weighted_op(self.p, x.to(torch.float32), self.weight, self.bias)
        if rounded and len(self.scales) == 2:
            return y.narrow(1, 0, self.out) + y.narrow(1, self.out, self.out)
        acc = y.narrow(1, 0, self.out).to(torch.float64)  # parts come scaled: just add
        for j in range(1, len(self.scales)):
            acc.add_(y.narrow(1, j * self.out, self.out))
        return acc
