"""Pieces both spike codings share: the converted network, fixed point, event counting."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from dse.architecture import Architecture, AvgPool2d, Conv2d, Linear, MaxPool2d
from dse.interfaces import Split, TrainedNetwork, WeightQuantizer
from plugins.training._network import LayerParams, Network, balance_thresholds, fold_batch_norm

# Analog pixels enter the first layer as unsigned fixed point with 8 fractional bits:
# the 8-bit pixel depth of every dataset here (CIFAR, Tiny-ImageNet: uint8).
PIXEL_FRAC_BITS = 8
# float64 holds every integer below 2^53 exactly (IEEE 754 binary64, 53-bit significand).
FLOAT64_EXACT_BITS = 53
# float32 holds every integer below 2^24 exactly (24-bit significand).
FLOAT32_EXACT_BITS = 24


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
        raise TypeError("convert needs a network built by plugins.training (a Network module)")
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


def weighted_op(p: LayerParams, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """The layer's linear operation without bias (conv or linear)."""
    if isinstance(p.spec, Conv2d):
        return F.conv2d(x, w, None, p.spec.stride, p.spec.padding)
    return F.linear(x, w)


def synaptic_events(p: LayerParams, active: torch.Tensor) -> torch.Tensor:
    """Per sample: number of (input spike, output neuron) pairs, i.e. real synaptic events.

    For a conv, every output neuron receives the spikes in its receptive field: a conv of
    the spike indicator with an all-ones kernel, times the output channels. Padding
    positions hold no spike, so they are excluded.
    """
    n = active.shape[0]
    if isinstance(p.spec, Conv2d):
        ones = torch.ones(1, active.shape[1], p.spec.kernel, p.spec.kernel, dtype=active.dtype)
        per_out = F.conv2d(active, ones, None, p.spec.stride, p.spec.padding)
        return per_out.reshape(n, -1).sum(1) * p.spec.out_channels
    assert isinstance(p.spec, Linear)
    return active.reshape(n, -1).sum(1) * p.spec.out_features


def pool_events(spec: MaxPool2d | AvgPool2d, active: torch.Tensor) -> torch.Tensor:
    """Per sample: input spikes that fall inside some pooling window (comparisons made)."""
    k, s = spec.kernel, spec.stride
    per_window = F.avg_pool2d(active, k, s) * (k * k)
    return per_window.reshape(active.shape[0], -1).sum(1)


def exact_dtype(bound: float) -> torch.dtype:
    """float32 when every integer the computation can reach is exact in it, else float64."""
    return torch.float32 if bound < 2.0**FLOAT32_EXACT_BITS else torch.float64


def trunc_fixed(x: torch.Tensor, frac_bits: int) -> torch.Tensor:
    """x as an integer count of 2^-frac_bits units, truncated toward zero (float64)."""
    return torch.trunc(x.to(torch.float64) * 2.0**frac_bits)
