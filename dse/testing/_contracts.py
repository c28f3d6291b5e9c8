from __future__ import annotations

import dataclasses
import math
from abc import ABC, abstractmethod

from dse.architecture import Architecture, Conv2d, Flatten, Linear, MaxPool2d, static_workload
from dse.interfaces import HardwareModel, HardwareReport, ModelBuilder, WeightQuantizer
from dse.workload import Workload


def example_workload(
    spike_rate: float = 0.2, time_window: int = 8, weight_bits: int = 5
) -> Workload:
    """A small conv net's workload with a uniform assumed spike rate (hand-checkable)."""
    arch = Architecture(
        name="contract_net",
        input_shape=(1, 8, 8),
        num_classes=10,
        layers=(Conv2d(8), MaxPool2d(), Conv2d(16), Flatten(), Linear(10)),
    )
    static = static_workload(
        arch,
        weight_bits=weight_bits,
        weight_format="log",
        coding="ttfs_log",
        time_window=time_window,
        accumulator_bits=16,
    )
    layers, inputs = [], spike_rate * 64
    for layer in static.layers:
        outputs = spike_rate * layer.neurons if layer.fires else 0.0
        layers.append(
            dataclasses.replace(
                layer,
                input_spikes=inputs,
                output_spikes=outputs,
                synops=inputs * layer.fan_out,
                time_steps=float(time_window),
            )
        )
        inputs = outputs
    return dataclasses.replace(static, layers=tuple(layers), source=f"assumed rate {spike_rate}")


class WeightQuantizerContract(ABC):
    """What every weight quantizer promises the training methods and codings."""

    @abstractmethod
    def make_quantizer(self) -> WeightQuantizer:
        """Return the quantizer under test."""

    def _weights(self):
        import torch

        generator = torch.Generator().manual_seed(0)
        return torch.randn(16, 8, 3, 3, generator=generator) * 0.3

    def test_implements_the_interface(self) -> None:
        quantizer = self.make_quantizer()
        assert isinstance(quantizer, WeightQuantizer)
        assert quantizer.format in ("float", "uniform", "log")
        assert isinstance(quantizer.storage_bits, int) and quantizer.storage_bits >= 1

    def test_shape_and_dtype_are_kept(self) -> None:
        w = self._weights()
        q = self.make_quantizer().quantize(w)
        assert q.shape == w.shape and q.dtype == w.dtype

    def test_quantizing_twice_changes_nothing(self) -> None:
        quantizer = self.make_quantizer()
        once = quantizer.quantize(self._weights())
        assert bool((quantizer.quantize(once) == once).all())

    def test_signs_are_kept_or_zeroed(self) -> None:
        w = self._weights()
        q = self.make_quantizer().quantize(w)
        assert bool(((q == 0) | (q.sign() == w.sign())).all())

    def test_distinct_values_fit_in_storage_bits(self) -> None:
        quantizer = self.make_quantizer()
        if quantizer.format == "float":
            return
        levels = quantizer.quantize(self._weights()).unique().numel()
        assert levels <= 2**quantizer.storage_bits

    def test_fake_quantize_is_straight_through(self) -> None:
        quantizer = self.make_quantizer()
        w = self._weights().requires_grad_(True)
        out = quantizer.fake_quantize(w)
        assert bool((out.detach() == quantizer.quantize(w.detach())).all())
        out.sum().backward()
        assert bool((w.grad == 1).all())


class HardwareModelContract(ABC):
    """What every hardware model promises the orchestrator (see dse/workload.py)."""

    @abstractmethod
    def make_model(self) -> HardwareModel:
        """Return the hardware model under test."""

    def test_report_is_typed_and_consistent(self) -> None:
        workload = example_workload()
        report = self.make_model().estimate(workload)
        assert isinstance(report, HardwareReport)
        assert report.energy_uj > 0 and report.latency_ms > 0 and report.area_mm2 > 0
        assert math.isclose(report.energy_uj, report.breakdown.total_uj, rel_tol=1e-9)
        layer_total = sum(layer.energy.total_uj for layer in report.layers)
        assert math.isclose(layer_total, report.energy_uj, rel_tol=1e-6)
        assert [layer.name for layer in report.layers] == [layer.name for layer in workload.layers]
        assert 0.0 <= report.pe_utilization <= 1.0
        for value in dataclasses.asdict(report.breakdown).values():
            assert value >= 0

    def test_is_deterministic_and_leaves_the_workload_alone(self) -> None:
        workload = example_workload()
        before = workload.to_dict()
        model = self.make_model()
        assert model.estimate(workload) == model.estimate(workload)
        assert workload.to_dict() == before

    def test_more_activity_never_costs_less(self) -> None:
        model = self.make_model()
        quiet = model.estimate(example_workload(spike_rate=0.05)).energy_uj
        busy = model.estimate(example_workload(spike_rate=0.5)).energy_uj
        assert busy >= quiet


class ModelBuilderContract(ABC):
    """What every model builder promises: an Architecture that fits its input."""

    input_shape: tuple[int, int, int] = (1, 8, 8)
    num_classes: int = 10

    @abstractmethod
    def make_builder(self) -> ModelBuilder:
        """Return the model builder under test."""

    def test_builds_a_valid_architecture(self) -> None:
        arch = self.make_builder().build(self.input_shape, self.num_classes)
        assert isinstance(arch, Architecture)
        assert arch.input_shape == tuple(self.input_shape)
        assert arch.shapes()[-1][1] == (self.num_classes,)
