"""The torch side of an Architecture: module, training loop, batch-norm folding, export.

``Network`` follows the architecture convention (dse/architecture.py): every Conv2d and
Linear except the last is followed by the activation (the coding's spiking neuron in CAT,
ReLU in standard training). With a weight quantizer (CAT) each weighted layer uses the
quantized weights: straight-through while training, exactly ``quantizer.quantize`` in
eval mode, so the module's accuracy is the quantized ANN's.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dse.architecture import AvgPool2d, Conv2d, Flatten, LayerSpec, Linear, MaxPool2d
from dse.errors import TrainingError
from dse.interfaces import Accumulator, DataSplits, Split, WeightQuantizer

_BN_EPS = 1e-5  # torch.nn.BatchNorm2d default eps


@dataclass
class LayerParams:
    """One architecture layer with plain tensors: folded weight and bias (None for pools)."""

    spec: LayerSpec
    weight: torch.Tensor | None = None
    bias: torch.Tensor | None = None


class WeightedLayer(nn.Module):
    """Conv2d or Linear with optional batch norm and optional weight quantizer.

    With a quantizer and batch norm (CAT), the batch norm is folded into the weights in
    every forward pass (Jacob et al., CVPR 2018): batch statistics while training, running
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

    def _op(self, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
        if isinstance(self.spec, Conv2d):
            return F.conv2d(x, w, b, self.spec.stride, self.spec.padding)
        return F.linear(x, w, b)

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
        if self.training:
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


def _fold(w, b, gamma, beta, mean, var, eps) -> tuple[torch.Tensor, torch.Tensor]:  # noqa: ANN001
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
        arch,  # noqa: ANN001 - dse.architecture.Architecture
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


def firing_scales(
    module: Network, calibration: Split, *, percentile: float, samples: int
) -> list[float]:
    """Per weighted layer, the ``percentile`` of its positive activations on the first
    ``samples`` calibration images (Diehl et al. 2015; Rueckauer et al. 2017): the value
    that should sit at the firing threshold. 1.0 for the read-out (it does not fire) and
    for a layer that is never positive."""
    from dse.data import to_float

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


def train_network(
    module: Network,
    data: DataSplits,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    optimizer: str,
    weight_decay: float,
    momentum: float,
    lr_schedule: str,
    device: str,
    generator: torch.Generator,
    desc: str,
) -> dict[str, float]:
    """Cross-entropy training with a tqdm bar over epochs; raises TrainingError on divergence.

    Trains on ``device`` (auto: the GPU when there is one) and returns the module on the
    CPU, where the simulators and the stage cache expect it. Batches are drawn on the CPU
    with ``generator``, so the data order is the same on every device.
    """
    from tqdm import tqdm

    from dse.builtin.training._common import resolve_device
    from dse.data import batches

    target = torch.device(resolve_device(device))
    module.to(target)

    params = [p for p in module.parameters() if p.requires_grad]
    if optimizer == "adam":
        opt: torch.optim.Optimizer = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    else:
        opt = torch.optim.SGD(
            params, lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=momentum > 0
        )
    sched = (
        torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(epochs, 1))
        if lr_schedule == "cosine"
        else None
    )
    # Chance-level cross-entropy is ln(C); a loss 50x above it has clearly diverged.
    limit = 50.0 * math.log(max(data.num_classes, 2))
    info = {"loss": float("nan"), "train_accuracy": float("nan"), "epochs": 0.0}
    # One bar over every batch of every epoch: its ETA is meaningful from the first epoch on.
    per_epoch = math.ceil(len(data.train) / batch_size)
    bar = tqdm(total=epochs * per_epoch, desc=desc, unit="batch", leave=False)
    for epoch in range(epochs):
        module.train()
        bar.set_description(f"{desc} epoch {epoch + 1}/{epochs}")
        total, correct, loss_sum = 0, 0, 0.0
        for x, y in batches(
            data.train, batch_size, shuffle=True, generator=generator, augment=data.augment
        ):
            x, y = x.to(target, non_blocking=True), y.to(target, non_blocking=True)
            logits = module(x)
            loss = F.cross_entropy(logits, y)
            value = float(loss.detach())
            if not math.isfinite(value) or value > limit:
                bar.close()
                raise TrainingError(
                    f"{desc}: loss became {value:.4g} in epoch {epoch + 1} (diverged); "
                    f"lower training.lr (now {lr:g}) or use training.optimizer=adam"
                )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += value * len(y)
            total += len(y)
            correct += int((logits.argmax(1) == y).sum())
            bar.update()
        if sched is not None:
            sched.step()
        info = {
            "loss": loss_sum / max(total, 1),
            "train_accuracy": 100.0 * correct / max(total, 1),
            "epochs": float(epoch + 1),
        }
        bar.set_postfix(loss=f"{info['loss']:.4f}", acc=f"{info['train_accuracy']:.1f}")
    bar.close()
    module.to("cpu")
    module.eval()
    return info
