"""Conversion-aware training (CAT): the coding's spiking activation and quantized weights in the loop."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from dse.builtin.training._common import OptimizationSettings
from dse.errors import require
from dse.interfaces import TrainedNetwork, TrainingMethod

if TYPE_CHECKING:
    from dse.architecture import Architecture
    from dse.builtin.training.standard import StandardTraining
    from dse.interfaces import DataSplits, SpikeCoding, WeightQuantizer
    from dse.network import Network

_INITS = ("scratch", "standard")


class ConversionAwareTraining(OptimizationSettings, TrainingMethod):
    """Conversion-aware training (CAT, Lew et al. DAC 2022): train the ANN the SNN computes.

    Every conv/linear except the read-out is followed by ``coding.activation()`` (forward:
    exactly the values a spike can represent; backward: straight-through), weights pass
    through ``quantizer.fake_quantize`` (batch norm folded first), every conv/linear sums
    as the coding's ``accumulator()`` does (fixed point: truncation, saturation), and the
    input passes through the coding's ``input_encoder()``. The returned module is float64
    and in eval mode computes the quantized ANN exactly, so the SNN can reproduce it bit
    for bit.
    ``init=standard`` first trains a ReLU float network for ``pretrain_epochs`` and
    fine-tunes it with CAT, after rescaling it so that each layer's ``init_percentile``-th
    activation on 512 training images sits at the coding's threshold (data-based
    normalisation, Diehl et al. 2015): ReLU activations far above the threshold would
    otherwise all saturate at the first CAT step.
    """

    depends_on: ClassVar[tuple[str, ...]] = ("quantizer", "coding")

    def __init__(
        self,
        epochs: int = 30,
        batch_size: int = 64,
        lr: float = 2e-3,
        optimizer: str = "adam",
        weight_decay: float = 0.0,
        momentum: float = 0.9,
        lr_schedule: str = "cosine",
        device: str = "auto",
        init: str = "scratch",
        pretrain_epochs: int = 10,
        init_percentile: float = 99.9,
    ) -> None:
        self._set_optimization(
            epochs=int(epochs),
            batch_size=int(batch_size),
            lr=float(lr),
            optimizer=optimizer,
            weight_decay=float(weight_decay),
            momentum=float(momentum),
            lr_schedule=lr_schedule,
            device=device,
        )
        require(init in _INITS, "training.init", f"must be one of {_INITS}", init)
        require(pretrain_epochs >= 0, "training.pretrain_epochs", "must be >= 0", pretrain_epochs)
        require(
            0 < init_percentile <= 100,
            "training.init_percentile",
            "must be in (0, 100]",
            init_percentile,
        )
        self.init = init
        self.pretrain_epochs = int(pretrain_epochs)
        self.init_percentile = float(init_percentile)

    def pretraining(self) -> StandardTraining | None:
        """With ``init=standard``: the ReLU training CAT fine-tunes (cached by the orchestrator)."""
        from dse.builtin.training.standard import StandardTraining

        if self.init != "standard":
            return None
        return StandardTraining(**{**self.optimization(), "epochs": self.pretrain_epochs})

    def untrained(
        self, arch: Architecture, quantizer: WeightQuantizer, coding: SpikeCoding
    ) -> Network:
        from dse.network import Network

        return Network(
            arch, coding.activation, quantizer, coding.input_encoder(), coding.accumulator
        )

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

        from dse.builtin.training._loop import train_network
        from dse.network import firing_scales, rescale_activations

        coding.check_architecture(arch)
        pretraining = self.pretraining()
        if init is None and pretraining is not None:
            init = pretraining.fit(arch, data, quantizer, coding, seed)
        info: dict[str, float | str] = {"init": self.init}
        with torch.random.fork_rng(devices=[]):  # seed locally, leave global RNG untouched
            torch.manual_seed(seed)
            module = self.untrained(arch, quantizer, coding)
            if init is not None:
                module.load_state_dict(init.module.state_dict())
                scales = firing_scales(
                    init.module, data.train, percentile=self.init_percentile, samples=512
                )
                rescale_activations(module, scales, getattr(coding, "threshold", 1.0))
                info["init_scales"] = " ".join(f"{s:.3g}" for s in scales)
                info.update({f"pretrain_{k}": v for k, v in init.info.items()})
            generator = torch.Generator().manual_seed(seed + 1)
            info.update(
                train_network(
                    module,
                    data,
                    **self.optimization(),
                    generator=generator,
                    desc="cat",
                )
            )
        # float64: sums of powers of two stay exact, so the ANN equals the SNN bit for bit
        module = module.double().eval()
        return TrainedNetwork(arch, module, conversion_aware=True, info=info)
