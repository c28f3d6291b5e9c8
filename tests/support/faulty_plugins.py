"""One deliberately broken plugin per kind, each with a bug a plugin author could make.

tests/testing/test_broken_plugins.py runs the dse.testing suites on them and checks
that each fails with a message naming what broke.
"""

from __future__ import annotations

import dataclasses
import random
import urllib.request
from typing import Any

import torch

from dse.api.architecture import Architecture
from dse.api.interfaces import (
    Dataset,
    DataSplits,
    EnergyBreakdown,
    HardwareModel,
    HardwareReport,
    LayerCost,
    ModelBuilder,
    SimulationResult,
    Split,
    TrainedNetwork,
    WeightQuantizer,
)
from dse.api.workload import Workload
from dse.builtin.codings.rate import RateCoding
from dse.builtin.codings.ttfs_log import TTFSLogCoding
from dse.builtin.datasets.digits import Digits
from dse.builtin.models.small_cnn import SmallCNN
from dse.builtin.training.standard import StandardTraining


class LabelsFromOne(Dataset):
    """Digits with labels 1..10 (a 1-based label file read as is)."""

    def load(self) -> DataSplits:
        data = Digits().load()

        def shift(split: Split) -> Split:
            return Split(split.x, split.y + 1)

        return dataclasses.replace(
            data, train=shift(data.train), val=shift(data.val), test=shift(data.test)
        )


class Downloading(Dataset):
    """Fetches its files on first use."""

    def load(self) -> DataSplits:
        urllib.request.urlopen("http://example.com/digits.npz", timeout=1)
        return Digits().load()


class FixedInputCNN(ModelBuilder):
    """Always builds for 28x28 inputs, whatever it is given."""

    def build(self, input_shape: tuple[int, int, int], num_classes: int) -> Architecture:
        return SmallCNN().build((1, 28, 28), num_classes)


class UnseededTraining(StandardTraining):
    """Ignores the seed it is given."""

    def fit(self, arch: Any, data: Any, quantizer: Any, coding: Any, seed: int, init: Any = None) -> TrainedNetwork:  # fmt: skip
        return super().fit(arch, data, quantizer, coding, random.randrange(1 << 30), init)


class MeanScaledQuantizer(WeightQuantizer):
    """4-bit uniform grid whose step is a quarter of the mean |w|: quantizing again moves
    the step (the mean of quantized weights is not the mean of the originals)."""

    format = "uniform"

    @property
    def storage_bits(self) -> int:
        return 4

    def quantize(self, weight: torch.Tensor) -> torch.Tensor:
        step = weight.abs().mean() / 4
        if step == 0:
            return weight.clone()
        return (torch.round(weight / step).clamp(-7, 7) * step).to(weight.dtype)


class WrongActivationTTFS(TTFSLogCoding):
    """TTFS simulation, but CAT trains with rate coding's uniform activation."""

    def activation(self) -> torch.nn.Module:
        return RateCoding(time_window=self.time_window, threshold=self.threshold).activation()


class NoPoolActivityTTFS(TTFSLogCoding):
    """Reports activity for the weighted layers only (pooling left out)."""

    def simulate(self, snn: Any, split: Split, batch_size: int = 1024) -> SimulationResult:
        from dse.api.architecture import MaxPool2d

        result = super().simulate(snn, split, batch_size)
        kinds = [layer for layer in snn.architecture.layers if type(layer).__name__ != "Flatten"]
        result.activity = [
            a for a, layer in zip(result.activity, kinds, strict=True)
            if not isinstance(layer, MaxPool2d)
        ]  # fmt: skip
        return result


class NegativeLeakage(HardwareModel):
    """Subtracts a 'leakage credit' per layer, so idle layers have negative energy."""

    def estimate(self, workload: Workload) -> HardwareReport:
        layers = []
        for layer in workload.layers:
            energy = EnergyBreakdown(
                compute_uj=layer.synops * 1e-7, leakage_uj=layer.output_spikes * 1e-8 - 1e-6
            )
            cycles = int(layer.synops) + 1
            layers.append(LayerCost(layer.name, energy, cycles, cycles / 2e5, 0.5, layer.synops))
        total = EnergyBreakdown()
        for cost in layers:
            total = total + cost.energy
        cycles = sum(c.cycles for c in layers)
        return HardwareReport(
            energy_uj=total.total_uj,
            latency_ms=cycles / 2e5,
            area_mm2=1.0,
            cycles=cycles,
            pe_utilization=0.5,
            pj_per_synop=total.total_uj * 1e6 / max(workload.total_synops, 1.0),
            breakdown=total,
            layers=tuple(layers),
        )
