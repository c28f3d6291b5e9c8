"""The abstract base classes every plugin implements, one per plugin kind.

Each base has few methods; their docstrings say when the orchestrator calls them
(see dse/point/pipeline.py for the order). A plugin is configured through the keyword
arguments of its ``__init__``: these are exactly the keys of its YAML file in
``conf/<group>/<name>.yaml`` (plus ``_target_``), and the constructor validates them,
raising :class:`dse.errors.ConfigError` naming the field (``require`` helps).

This module is cheap to import: torch appears in type hints only.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from dse.api.architecture import Architecture, Conv2d, Linear
from dse.api.workload import WeightFormat, Workload

if TYPE_CHECKING:
    import numpy as np
    import torch
    from tqdm import tqdm  # noqa: F401


# --------------------------------------------------------------------------- data


@dataclass
class Split:
    """One split of a dataset, held in memory.

    ``x`` is float32 in [0, 1] or uint8 in [0, 255] (large image sets), shape (N, C, H, W);
    ``y`` is int64 class indices, shape (N,). Use ``dse.data.batches`` to iterate.
    """

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return int(self.y.shape[0])


@dataclass
class DataSplits:
    train: Split
    val: Split
    test: Split
    num_classes: int
    input_shape: tuple[int, int, int]  # (C, H, W)
    # Random augmentation applied to float training batches (None: no augmentation).
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None


class Dataset(ABC):
    """Config group ``dataset``. Called once per design point, first."""

    @abstractmethod
    def load(self) -> DataSplits:
        """Read (never download) the data. Raise DatasetError naming the expected layout."""


# --------------------------------------------------------------------------- model


class ModelBuilder(ABC):
    """Config group ``model``. Called after the dataset is loaded."""

    @abstractmethod
    def build(self, input_shape: tuple[int, int, int], num_classes: int) -> Architecture:
        """Describe the network for this input shape and class count."""


# --------------------------------------------------------------------------- quantizer


class WeightQuantizer(ABC):
    """Config group ``quantizer``. Used inside CAT training (straight-through) and
    post-training by the coding's ``convert``.

    ``quantize`` must be idempotent and return only values on the quantizer's level set
    (``dse`` spot-checks idempotence on the first weights quantized).
    """

    # What the stored values are, so what a hardware model may assume of each synaptic
    # operation: "float" (a float MAC), "uniform" (+-k s: an integer multiply), "log"
    # (+-s 2^-e, s a power of two: a shift). Table and the rule for other formats:
    # docs/PLUGINS.md, "What a quantizer's format promises the hardware".
    format: ClassVar[WeightFormat]

    @property
    @abstractmethod
    def storage_bits(self) -> int:
        """Bits per stored weight, as the hardware model should price them."""

    @abstractmethod
    def quantize(self, weight: torch.Tensor) -> torch.Tensor:
        """Quantized copy of one layer's weight tensor (no gradient)."""

    def fake_quantize(self, weight: torch.Tensor) -> torch.Tensor:
        """Quantize in the forward pass, identity gradient in the backward pass (STE)."""
        # q + (w - w) is exactly q in the forward pass (w + (q - w) can round) and has
        # gradient 1 with respect to w.
        return self.quantize(weight.detach()) + (weight - weight.detach())


# --------------------------------------------------------------------------- network


@dataclass
class TrainedNetwork:
    """A trained ANN: its architecture, torch module and how it was trained.

    ``module`` maps (N, C, H, W) float inputs in [0, 1] to class logits.
    ``conversion_aware`` is True when the activations already are the coding's
    (CAT), so conversion needs no threshold balancing.
    """

    architecture: Architecture
    module: torch.nn.Module
    conversion_aware: bool
    info: dict[str, Any] = field(default_factory=dict)  # e.g. final loss, epochs run
    # Where a schedule stopped early (``TrainingMethod.fidelity_key``) left off: what
    # ``fit(resume=...)`` continues from. Tensors and plain values only (the stage cache
    # stores it beside the weights); None for a finished schedule.
    resume_state: dict[str, Any] | None = None


@dataclass
class LayerActivity:
    """Measured activity of one workload layer, averaged per inference, summed over time
    steps. What each field counts for conv, linear, pooling and read-out layers:
    docs/PLUGINS.md, "The activity a coding reports"."""

    input_spikes: float  # spikes into the layer (= the previous layer's output_spikes)
    output_spikes: float  # spikes it emits (read-out: 0)
    synops: float  # (input spike, output neuron reached) pairs; pooling: spikes in a window
    time_steps: float  # time steps the layer used, <= the coding's time_window


@dataclass(frozen=True)
class AccumulatorActivity:
    """What a fixed-point accumulator lost, averaged per inference (codings that model
    it). Both zero: the SNN computed its sums exactly."""

    truncated_products: float  # additions that lost bits below the LSB (products, MAC sums)
    saturated_neurons: float  # neurons whose potential was clipped at the range's ends

    @property
    def exact(self) -> bool:
        return self.truncated_products == 0 and self.saturated_neurons == 0


@dataclass
class SimulationResult:
    accuracy: float  # top-1, percent
    predictions: np.ndarray  # (N,) predicted classes
    activity: list[LayerActivity]  # one per workload layer (Architecture.layer_names())
    accumulator: AccumulatorActivity | None = None  # None: the coding does not measure it


# --------------------------------------------------------------------------- coding


class Accumulator(ABC):
    """A coding's fixed-point arithmetic for one weighted layer, as CAT computes it
    (``SpikeCoding.accumulator``). Rebuilt from the coding's settings whenever a cached
    network is loaded (the cache keeps weights only), so it holds no trained state."""

    @abstractmethod
    def __call__(
        self,
        spec: Conv2d | Linear,
        x: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor,
    ) -> torch.Tensor:
        """The layer's pre-activation, as the ANN sees it (ANN units): in the forward
        pass exactly the potential the SNN's accumulator reaches for input ``x`` (the
        previous activation's values), quantized ``weight`` and ``bias``; in the backward
        pass a gradient to train with (e.g. straight-through: that of the float op
        ``spec(x, weight) + bias``). With gradients off the result is exact."""


class SpikeCoding(ABC):
    """Config group ``coding``: how values become spikes, and the SNN simulator.

    Call order per design point: ``check_architecture`` (before training),
    ``activation``, ``input_encoder`` and ``accumulator`` (when CAT builds its network),
    ``convert`` then ``simulate``.
    """

    time_window: int

    @property
    @abstractmethod
    def accumulator_bits(self) -> int:
        """Membrane-potential width the simulation uses (priced by the hardware)."""

    def check_architecture(self, arch: Architecture) -> None:  # noqa: B027 - optional hook
        """Raise ConfigError if this coding cannot run a layer of ``arch``. Called early."""

    @abstractmethod
    def activation(self) -> torch.nn.Module:
        """The CAT activation: forward = exactly the values a spike can represent,
        backward = straight-through gradient of the clipped identity."""

    def input_encoder(self) -> torch.nn.Module | None:
        """What the SNN's input layer makes of the pixels (e.g. their spike values), as a
        module CAT applies to its inputs so the ANN trains on exactly what the SNN sees.
        None: the pixels themselves."""
        return None

    def accumulator(self, first: bool) -> Accumulator | None:
        """The fixed-point sum of one weighted layer (conv / linear, read-out included),
        for CAT to train on the potentials the SNN reaches: products truncated to the
        accumulator's LSB, sums saturated. ``first``: the first weighted layer (it sees
        the input encoder's output). Called once per layer when CAT builds its network.
        None: the SNN's sum is the float sum ``x * w + b``."""
        return None

    @abstractmethod
    def convert(self, ann: TrainedNetwork, quantizer: WeightQuantizer, calibration: Split) -> Any:
        """Build the SNN from a trained ANN: quantize weights post-training with
        ``quantizer`` and, when ``ann.conversion_aware`` is False, balance thresholds
        on ``calibration`` data. Returns a coding-specific SNN object."""

    @abstractmethod
    def simulate(self, snn: Any, split: Split) -> SimulationResult:
        """Run the SNN on every sample of ``split`` at spike level."""


# --------------------------------------------------------------------------- training


# A design point's fidelity: "low" when its training stops its schedule early (the
# method's ``fidelity_key`` is set), else "full". Searches count full fidelity only.
LOW_FIDELITY, FULL_FIDELITY = "low", "full"


class TrainingMethod(ABC):
    """Config group ``training``. ``fit`` is the expensive stage of a design point."""

    epochs: int
    # Config groups whose settings change what ``fit`` produces, besides dataset, model,
    # training and seed. The stage cache keys training on exactly these.
    depends_on: ClassVar[tuple[str, ...]] = ()
    # The constructor key that stops the schedule early, for a low-fidelity design point
    # (CAT: ``stop_epoch``), or None. A method that names one accepts ``fit(resume=...)``:
    # a network it returned with ``resume_state``; the orchestrator resumes from the
    # longest cached prefix of the same schedule, so promoting a design point to full
    # fidelity trains only the epochs it lacks.
    fidelity_key: ClassVar[str | None] = None
    # "nearest": the orchestrator passes as ``init`` the closest network of the stage
    # cache that differs only in ``depends_on`` groups (a conversion-aware one), pinned in
    # the training's cache key; "none": ``init`` is the pretraining's result, as usual.
    warm_start: str = "none"

    def pretraining(self) -> TrainingMethod | None:
        """A training whose result ``fit`` starts from (e.g. the standard ReLU network that
        CAT fine-tunes), or None. The orchestrator runs it first, through the stage cache
        keyed on its own settings, so design points that share it train it once."""
        return None

    def untrained(
        self, arch: Architecture, quantizer: WeightQuantizer, coding: SpikeCoding
    ) -> torch.nn.Module | None:
        """A module like the one ``fit`` returns (same layers and parameter names), before
        training: the stage cache loads saved weights into it. The cache stores tensors
        only, never code, so a method returning None (the default) is not cached."""
        return None

    @abstractmethod
    def fit(
        self,
        arch: Architecture,
        data: DataSplits,
        quantizer: WeightQuantizer,
        coding: SpikeCoding,
        seed: int,
        init: TrainedNetwork | None = None,
    ) -> TrainedNetwork:
        """Train on ``data.train`` (deterministic for a seed on CPU), show a progress bar,
        raise TrainingError on a NaN or diverging loss. ``init`` is the result of
        ``pretraining()`` when there is one (called without it, train it yourself)."""


# --------------------------------------------------------------------------- hardware


@dataclass(frozen=True)
class EnergyBreakdown:
    compute_uj: float = 0.0
    sram_uj: float = 0.0  # on-chip memory
    dram_uj: float = 0.0  # off-chip memory
    leakage_uj: float = 0.0

    @property
    def total_uj(self) -> float:
        return self.compute_uj + self.sram_uj + self.dram_uj + self.leakage_uj

    def __add__(self, other: EnergyBreakdown) -> EnergyBreakdown:
        return EnergyBreakdown(
            self.compute_uj + other.compute_uj,
            self.sram_uj + other.sram_uj,
            self.dram_uj + other.dram_uj,
            self.leakage_uj + other.leakage_uj,
        )


@dataclass(frozen=True)
class LayerCost:
    name: str
    energy: EnergyBreakdown
    cycles: int
    latency_ms: float
    pe_utilization: float  # 0..1
    synops: float
    membrane_reads: float = 0.0  # potentials read from the membrane buffer (SNN processors)


@dataclass(frozen=True)
class HardwareReport:
    """A processor's price for one inference, in the units its field names state."""

    energy_uj: float
    latency_ms: float
    area_mm2: float
    cycles: int
    pe_utilization: float  # cycle-weighted mean over layers, 0..1
    pj_per_synop: float  # total energy / total synaptic operations
    breakdown: EnergyBreakdown
    layers: tuple[LayerCost, ...]
    area_breakdown_mm2: dict[str, float] = field(default_factory=dict)
    # The energy band from the model's stated constant spreads (docs/HARDWARE.md); None
    # when a model states none (then the point value stands for both ends).
    energy_uj_low: float | None = None
    energy_uj_high: float | None = None
    # energy by constant group (logic, sram, wire, clock, dram, leakage), when the model says
    energy_parts_uj: dict[str, float] = field(default_factory=dict)
    calibration: float = 1.0  # scale applied to the on-chip energy (1: uncalibrated)
    notes: tuple[str, ...] = ()  # what a reader must see first (e.g. weights from DRAM)

    @property
    def band_uj(self) -> tuple[float, float]:
        """(low, high): the stated band, or the point value twice when there is none."""
        low = self.energy_uj if self.energy_uj_low is None else self.energy_uj_low
        high = self.energy_uj if self.energy_uj_high is None else self.energy_uj_high
        return low, high


class HardwareModel(ABC):
    """Config group ``hardware``. Prices a workload; called last, and cheap (< 1 ms)."""

    @abstractmethod
    def estimate(self, workload: Workload) -> HardwareReport:
        """Energy, latency and area of one inference of ``workload``."""


PLUGIN_KINDS: dict[str, type] = {
    "dataset": Dataset,
    "model": ModelBuilder,
    "training": TrainingMethod,
    "quantizer": WeightQuantizer,
    "coding": SpikeCoding,
    "hardware": HardwareModel,
}

# The plugin groups in the order people read them (run tags, tables, the front's columns):
# the one list every part of dse uses.
PLUGIN_GROUPS: tuple[str, ...] = tuple(PLUGIN_KINDS)
