"""Conversion-aware training (CAT): the coding's spiking activation and quantized weights in the loop."""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import TYPE_CHECKING, Any, ClassVar

from dse.api.errors import ConfigError, require
from dse.api.interfaces import TrainedNetwork, TrainingMethod
from dse.builtin.training._common import OptimizationSettings, StageRecipe

if TYPE_CHECKING:
    from dse.api.architecture import Architecture
    from dse.api.interfaces import DataSplits, SpikeCoding, WeightQuantizer
    from dse.api.network import Network
    from dse.builtin.training.standard import StandardTraining

_INITS = ("scratch", "standard")
_BN_STATISTICS = ("batch", "running")
_WARM_STARTS = ("none", "nearest")


class ConversionAwareTraining(OptimizationSettings, TrainingMethod):
    """Conversion-aware training (CAT, Lew et al. DAC 2022): train the ANN the SNN computes.

    Every conv/linear except the read-out is followed by ``coding.activation()`` (forward:
    exactly the values a spike can represent; backward: straight-through), weights pass
    through ``quantizer.fake_quantize`` (batch norm folded first), every conv/linear sums
    as the coding's ``accumulator()`` does (fixed point: truncation, saturation), and the
    input passes through the coding's ``input_encoder()``. The returned module is float64
    and in eval mode computes the quantized ANN exactly, so the SNN can reproduce it bit
    for bit.

    Two stages, two recipes. The flat keys (``epochs``, ``lr``, ``batch_size``,
    ``lr_schedule``, ``augment``, ...) are CAT's own. With ``init=standard``, CAT first
    trains a ReLU float network by the recipe in ``pretrain`` (a :class:`StageRecipe`:
    ``training.pretrain.epochs`` etc.), cached under a key of that recipe alone, so every
    CAT variant of a sweep fine-tunes the same pretrained network. Before fine-tuning, the
    network is rescaled so that each layer's ``init_percentile``-th activation on 512
    training images sits at the coding's threshold (data-based normalisation, Diehl et al.
    2015): ReLU activations far above the threshold would otherwise all saturate at the
    first CAT step. ``bn_statistics=running`` folds batch norm with the pretrained
    running statistics while fine-tuning (frozen), so training quantizes exactly the
    weights the SNN receives; ``batch`` folds this batch's statistics (Jacob et al. 2018).
    ``distill`` > 0 adds knowledge distillation from the pretrained float network.

    ``warm_start=nearest``: start from the nearest conversion-aware network already in the
    stage cache for the same data, network and recipe (other bits or time window; the
    orchestrator picks it and records it in the cache key), not from the ReLU network.

    ``stop_epoch`` = k < ``epochs``: a low-fidelity design point, the first k epochs of the
    ``epochs``-long schedule; resumed later (``fit(resume=...)``), it becomes exactly the
    network of an uninterrupted run.
    """

    depends_on: ClassVar[tuple[str, ...]] = ("quantizer", "coding")
    fidelity_key: ClassVar[str | None] = "stop_epoch"

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
        init: str = "scratch",
        pretrain: StageRecipe | None = None,
        init_percentile: float = 99.9,
        bn_statistics: str = "batch",
        distill: float = 0.0,
        stop_epoch: int | None = None,
        warm_start: str = "none",
        pretrain_epochs: int | None = None,
    ) -> None:
        if pretrain_epochs is not None:  # removed: the pretraining has a recipe of its own
            raise ConfigError(
                "training.pretrain_epochs was replaced by training.pretrain.epochs (the "
                "pretraining's own recipe: training.pretrain.{lr,batch_size,augment,...})"
            )
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
        require(init in _INITS, "training.init", f"must be one of {_INITS}", init)
        require(
            0 < init_percentile <= 100,
            "training.init_percentile",
            "must be in (0, 100]",
            init_percentile,
        )
        require(
            bn_statistics in _BN_STATISTICS,
            "training.bn_statistics",
            f"must be one of {_BN_STATISTICS}",
            bn_statistics,
        )
        require(0 <= distill < 1, "training.distill", "must be in [0, 1)", distill)
        require(
            init == "standard" or (bn_statistics == "batch" and distill == 0),
            "training.init",
            "must be standard for bn_statistics=running or distill > 0 (both need the "
            "pretrained network)",
            init,
        )
        require(
            stop_epoch is None or 1 <= stop_epoch <= epochs,
            "training.stop_epoch",
            f"must be null (the whole schedule) or in [1, training.epochs={epochs}]",
            stop_epoch,
        )
        require(
            warm_start in _WARM_STARTS,
            "training.warm_start",
            f"must be one of {_WARM_STARTS}",
            warm_start,
        )
        require(
            warm_start == "none" or distill == 0,
            "training.warm_start",
            "must be none with distill > 0 (the teacher is the pretrained float network)",
            warm_start,
        )
        self.warm_start = warm_start
        # the whole schedule, however written: one cache key for one network
        self.stop_epoch = None if stop_epoch in (None, epochs) else int(stop_epoch)
        self.init = init
        self.pretrain = _recipe(pretrain).validated("training.pretrain")
        self.init_percentile = float(init_percentile)
        self.bn_statistics = bn_statistics
        self.distill = float(distill)

    def pretraining(self) -> StandardTraining | None:
        """With ``init=standard``: the ReLU training CAT fine-tunes (cached by the orchestrator
        under a key of ``pretrain`` and ``device`` only)."""
        from dse.builtin.training.standard import StandardTraining

        if self.init != "standard":
            return None
        return StandardTraining(**asdict(self.pretrain), device=self.device)

    def untrained(
        self, arch: Architecture, quantizer: WeightQuantizer, coding: SpikeCoding
    ) -> Network:
        from dse.api.network import Network

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
        resume: TrainedNetwork | None = None,
    ) -> TrainedNetwork:
        import torch

        from dse.api.network import WeightedLayer, firing_scales, rescale_activations
        from dse.builtin.training._loop import train_network

        coding.check_architecture(arch)
        pretraining = self.pretraining()
        if init is None and pretraining is not None:
            init = pretraining.fit(arch, data, quantizer, coding, seed)
        info: dict[str, float | str] = {"init": self.init}
        with torch.random.fork_rng(devices=[]):  # seed locally, leave global RNG untouched
            torch.manual_seed(seed)
            module = self.untrained(arch, quantizer, coding)
            if resume is not None:  # where a stopped schedule left off: weights and all
                if resume.resume_state is None:
                    raise ConfigError("CAT: the network to resume finished its schedule")
                module.load_state_dict(resume.module.state_dict())
                info.update(resume.info)
            elif init is not None and init.conversion_aware:  # a warm start: CAT's own
                module.load_state_dict(init.module.state_dict())
                info["init"] = "warm"
            elif init is not None:
                module.load_state_dict(init.module.state_dict())
                scales = firing_scales(
                    init.module, data.train, percentile=self.init_percentile, samples=512
                )
                rescale_activations(module, scales, getattr(coding, "threshold", 1.0))
                info["init_scales"] = " ".join(f"{s:.3g}" for s in scales)
                info.update({f"pretrain_{k}": v for k, v in init.info.items()})
            for layer in module.layers:
                if isinstance(layer, WeightedLayer):
                    layer.batch_statistics = self.bn_statistics == "batch"
            generator = torch.Generator().manual_seed(seed + 1)
            figures, state = train_network(
                module,
                data,
                **self.optimization(),
                generator=generator,
                desc="cat",
                teacher=init.module if init is not None and self.distill > 0 else None,
                distill=self.distill,
                stop_epoch=self.stop_epoch,
                resume=None if resume is None else resume.resume_state,
            )
            info.update(figures)
        # float64: sums of powers of two stay exact, so the ANN equals the SNN bit for bit
        # (a float32 run resumed from it loses nothing: every value came from float32)
        module = module.double().eval()
        return TrainedNetwork(arch, module, conversion_aware=True, info=info, resume_state=state)


def _recipe(value: StageRecipe | dict[str, Any] | None) -> StageRecipe:
    """``training.pretrain`` as a StageRecipe (YAML gives a dict)."""
    if value is None:
        return StageRecipe()
    if isinstance(value, StageRecipe):
        return value
    known = {f.name for f in fields(StageRecipe)}
    unknown = sorted(set(value) - known)
    require(
        not unknown,
        "training.pretrain",
        f"has unknown keys {unknown}; its keys are {sorted(known)}",
        dict(value),
    )
    return StageRecipe(**value)
