"""Standard ANN training: ReLU, float weights; quantizer and coding applied after training."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from dse.api.interfaces import TrainedNetwork, TrainingMethod
from dse.builtin.training._common import OptimizationSettings

if TYPE_CHECKING:
    from dse.api.architecture import Architecture
    from dse.api.interfaces import DataSplits, SpikeCoding, WeightQuantizer
    from dse.api.network import Network


class StandardTraining(OptimizationSettings, TrainingMethod):
    """Standard ReLU ANN training with float weights; conversion balances thresholds afterwards.

    Neither the quantizer nor the coding reaches training (``depends_on = ()``), so one
    trained network serves every quantizer and coding of a sweep.
    """

    depends_on: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        epochs: int = 30,
        batch_size: int = 64,
        lr: float = 2e-3,
        optimizer: str = "adam",
        weight_decay: float = 0.0,
        momentum: float = 0.9,
        lr_schedule: str = "cosine",
        augment: bool = True,
        device: str = "auto",
    ) -> None:
        self._set_optimization(
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            optimizer=optimizer,
            weight_decay=weight_decay,
            momentum=momentum,
            lr_schedule=lr_schedule,
            augment=augment,
            device=device,
        )

    def untrained(
        self, arch: Architecture, quantizer: WeightQuantizer, coding: SpikeCoding
    ) -> Network:
        from torch import nn

        from dse.api.network import Network

        return Network(arch, nn.ReLU)

    def fit(
        self,
        arch: Architecture,
        data: DataSplits,
        quantizer: WeightQuantizer,
        coding: SpikeCoding,
        seed: int,
        init: TrainedNetwork | None = None,
    ) -> TrainedNetwork:
        import torch

        with torch.random.fork_rng(devices=[]):  # seed locally, leave global RNG untouched
            torch.manual_seed(seed)
            module, info = self._train(arch, data, seed, desc="standard")
        return TrainedNetwork(arch, module, conversion_aware=False, info=info)

    def _train(self, arch, data, seed, *, desc, epochs=None):  # noqa: ANN001, ANN202
        """A ReLU network trained for ``epochs`` (default: self.epochs); call under a seed."""
        import torch

        from dse.builtin.training._loop import train_network

        module = self.untrained(arch, None, None)  # type: ignore[arg-type]  # ReLU: neither used
        generator = torch.Generator().manual_seed(seed)
        settings = self.optimization()
        if epochs is not None:
            settings["epochs"] = epochs
        info, _ = train_network(
            module,
            data,
            **settings,
            generator=generator,
            desc=desc,
        )
        module.eval()
        return module, info
