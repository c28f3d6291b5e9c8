"""A base for spike codings whose neurons fire against a threshold in a fixed-point accumulator.

Both built-in codings (``rate``, ``ttfs_log``) and a coding written from docs/PLUGINS.md
derive from :class:`FixedPointCoding`: it holds the keys they share (validated once), the
CAT activation built from the coding's spike values, conversion (:mod:`dse.network`) and
the simulation loop that turns per-batch measurements into a ``SimulationResult``. A
subclass supplies what is its own: ``spike_values`` (the values a neuron's output can
take), ``run_batch`` (the SNN on one batch) and, optionally, ``prepare``,
``check_architecture``, ``input_encoder`` and ``accumulator``.

Cheap to import: torch is imported where it is used.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

from dse.api.errors import require
from dse.api.interfaces import SimulationResult, SpikeCoding, Split, TrainedNetwork, WeightQuantizer

if TYPE_CHECKING:
    import torch
    from torch import nn

    from dse.api.network import SimulatedBatch, SpikingNetwork

__all__ = ["FixedPointCoding"]


class FixedPointCoding(SpikeCoding):
    """A coding with T time steps, threshold theta and a two's-complement accumulator of
    ``accumulator_bits`` with ``frac_bits`` fractional bits in units of theta (LSB =
    theta * 2^-frac_bits); SNNs converted layer by layer with :func:`dse.network.convert_layers`.

    Subclasses call ``super().__init__`` from their own ``__init__`` (whose keyword
    arguments, with their defaults, are the coding's YAML keys) and set
    ``input_encodings`` to the input encodings they simulate (the first is the default).
    """

    # Input encodings this coding simulates; "analog": 8-bit pixels into a first MAC layer.
    input_encodings: ClassVar[tuple[str, ...]] = ("analog",)
    # True: run_batch reports what the fixed point lost (SimulatedBatch.lost), and the
    # result carries an AccumulatorActivity.
    measures_accumulator: ClassVar[bool] = False
    # Neurons per layer tensor in one simulated slice of a batch (None: the whole batch).
    # Small slices are reused from the heap and stay in cache; samples are independent.
    slice_elements: ClassVar[int | None] = None

    def __init__(
        self,
        *,
        time_window: int,
        threshold: float,
        accumulator_bits: int,
        frac_bits: int,
        input_encoding: str | None = None,
        percentile: float = 99.9,
        calibration_samples: int = 512,
        power_of_two_scales: bool = False,
    ) -> None:
        encoding = self.input_encodings[0] if input_encoding is None else input_encoding
        require(time_window >= 1, "coding.time_window", "must be >= 1", time_window)
        require(threshold > 0, "coding.threshold", "must be > 0", threshold)
        require(frac_bits >= 0, "coding.frac_bits", "must be >= 0", frac_bits)
        require(
            accumulator_bits >= frac_bits + 2,
            "coding.accumulator_bits",
            f"must be >= frac_bits + 2 = {frac_bits + 2} (sign bit + the threshold itself)",
            accumulator_bits,
        )
        # Integers stay exact in float64 below 2^53 (the simulation's widest type).
        require(
            accumulator_bits <= 52, "coding.accumulator_bits", "must be <= 52", accumulator_bits
        )
        require(
            encoding in self.input_encodings,
            "coding.input_encoding",
            f"must be one of {self.input_encodings}",
            encoding,
        )
        require(0 < percentile <= 100, "coding.percentile", "must be in (0, 100]", percentile)
        require(
            calibration_samples >= 1,
            "coding.calibration_samples",
            "must be >= 1",
            calibration_samples,
        )
        self.time_window = int(time_window)
        self.threshold = float(threshold)
        self._accumulator_bits = int(accumulator_bits)
        self.frac_bits = int(frac_bits)
        self.input_encoding = encoding
        self.percentile = float(percentile)
        self.calibration_samples = int(calibration_samples)
        self.power_of_two_scales = bool(power_of_two_scales)

    @property
    def accumulator_bits(self) -> int:
        return self._accumulator_bits

    # ------------------------------------------------------------------ CAT

    @abstractmethod
    def spike_values(self, x: torch.Tensor) -> torch.Tensor:
        """The value nearest below ``x`` that a neuron's output can take (in the ANN's
        units, 0 .. theta), exactly as the simulated neuron produces it. CAT's activation
        in the forward pass; must return its own outputs unchanged."""

    def activation(self) -> nn.Module:
        """``spike_values`` forward, the clipped identity's gradient backward."""
        from dse.api.network import SpikeActivation

        return SpikeActivation(self.spike_values, self.threshold, type(self).__name__)

    def input_encoder(self) -> nn.Module | None:
        """Analog input: the 8-bit fixed-point pixels the first layer multiplies."""
        from dse.api.network import AnalogPixels

        return AnalogPixels() if self.input_encoding == "analog" else None

    # ------------------------------------------------------------------ SNN

    def convert(
        self, ann: TrainedNetwork, quantizer: WeightQuantizer, calibration: Split
    ) -> SpikingNetwork:
        """Folded, quantized layers in units of theta; thresholds balanced on
        ``calibration`` for a standard-trained network (``percentile``,
        ``calibration_samples``, ``power_of_two_scales``)."""
        from dse.api.network import SpikingNetwork, convert_layers

        self.check_architecture(ann.architecture)
        layers, info = convert_layers(
            ann,
            quantizer,
            calibration,
            threshold=self.threshold,
            percentile=self.percentile,
            calibration_samples=self.calibration_samples,
            power_of_two_scales=self.power_of_two_scales,
        )
        return SpikingNetwork(ann.architecture, layers, self.time_window, info)

    def prepare(self, snn: SpikingNetwork) -> Any:
        """What ``run_batch`` needs that follows from the weights alone (e.g. integer
        weights); computed once per ``simulate`` call and passed to every batch."""
        return None

    @abstractmethod
    def run_batch(self, snn: SpikingNetwork, x: torch.Tensor, prepared: Any) -> SimulatedBatch:
        """Simulate the SNN on one batch of pixels ``x`` (float32 in [0, 1], (N, C, H, W))
        under ``torch.no_grad()``: predictions and per-sample activity of every workload
        layer (``dse.network.SimulatedBatch``)."""

    def simulate(
        self, snn: SpikingNetwork, split: Split, batch_size: int = 1024
    ) -> SimulationResult:
        """Every sample of ``split`` through ``run_batch``, ``batch_size`` at a time (in
        slices of ``slice_elements``): accuracy, predictions, activity per inference."""
        import torch

        from dse.api.data import batches
        from dse.api.network import ActivityMeter

        meter = ActivityMeter(accumulator=self.measures_accumulator)
        width = None
        if self.slice_elements is not None:
            largest = max(math.prod(s) for pair in snn.architecture.shapes() for s in pair)
            width = max(1, self.slice_elements // largest)
        with torch.no_grad():
            prepared = self.prepare(snn)  # from the weights: once, not per batch
            for batch, _ in batches(split, batch_size):
                for x in batch.split(width) if width is not None else (batch,):
                    meter.add(self.run_batch(snn, x, prepared))
        return meter.result(split)
