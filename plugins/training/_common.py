"""Keys and validation shared by the training methods: one stage's recipe."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from dse.api.errors import require

_OPTIMIZERS = ("adam", "sgd")
_SCHEDULES = ("cosine", "none")


def validate_keys(
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    optimizer: str,
    weight_decay: float,
    momentum: float,
    lr_schedule: str,
    augment: bool,
    prefix: str = "training",
) -> None:
    del augment  # any bool
    require(epochs >= 0, f"{prefix}.epochs", "must be >= 0 (0: no training)", epochs)
    require(batch_size >= 1, f"{prefix}.batch_size", "must be >= 1", batch_size)
    require(lr > 0, f"{prefix}.lr", "must be > 0", lr)
    require(
        optimizer in _OPTIMIZERS, f"{prefix}.optimizer", f"must be one of {_OPTIMIZERS}", optimizer
    )
    require(weight_decay >= 0, f"{prefix}.weight_decay", "must be >= 0", weight_decay)
    require(0 <= momentum < 1, f"{prefix}.momentum", "must be in [0, 1)", momentum)
    require(
        lr_schedule in _SCHEDULES,
        f"{prefix}.lr_schedule",
        f"must be one of {_SCHEDULES}",
        lr_schedule,
    )


def validate_device(device: str) -> None:
    require(
        device in ("auto", "cpu", "cuda") or device.startswith("cuda:"),
        "training.device",
        "must be auto, cpu, cuda or cuda:<index>",
        device,
    )
    if device.startswith("cuda"):
        import torch

        require(
            torch.cuda.is_available(),
            "training.device",
            "asks for a GPU but torch sees none (torch.cuda.is_available() is False); "
            "use training.device=cpu or auto",
            device,
        )


def resolve_device(device: str) -> str:
    """``auto``: the GPU when torch sees one, else the CPU."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@dataclass  # not frozen: OmegaConf makes a frozen dataclass's keys read-only
class StageRecipe:
    """How one training stage optimises: the keys of ``training.pretrain`` (CAT's ReLU
    pretraining), mirrored by the flat keys of the stage a method itself runs.

    ``augment``: whether this stage applies the dataset's augmentation (``dataset.augment``
    says whether the dataset offers one), so a fine-tuning can train on plain images while
    its pretraining augments, or the other way round.
    """

    epochs: int = 10
    batch_size: int = 64
    lr: float = 2e-3
    optimizer: str = "adam"
    weight_decay: float = 0.0
    momentum: float = 0.9
    lr_schedule: str = "cosine"
    augment: bool = True

    def validated(self, prefix: str) -> StageRecipe:
        recipe = StageRecipe(
            epochs=int(self.epochs),
            batch_size=int(self.batch_size),
            lr=float(self.lr),
            optimizer=str(self.optimizer),
            weight_decay=float(self.weight_decay),
            momentum=float(self.momentum),
            lr_schedule=str(self.lr_schedule),
            augment=bool(self.augment),
        )
        validate_keys(**asdict(recipe), prefix=prefix)
        return recipe


RECIPE_KEYS = tuple(StageRecipe.__dataclass_fields__)


class OptimizationSettings:
    """The keys every gradient-trained method shares: its own stage's recipe (flat keys,
    ``training.lr`` etc.) and the device, validated and stored once."""

    def _set_optimization(self, *, device: str, **settings: object) -> None:
        recipe = StageRecipe(**settings).validated("training")  # type: ignore[arg-type]
        validate_device(device)
        for key in RECIPE_KEYS:
            setattr(self, key, getattr(recipe, key))
        self.device = device

    def recipe(self) -> StageRecipe:
        """This method's own stage recipe."""
        return StageRecipe(**{key: getattr(self, key) for key in RECIPE_KEYS})

    def optimization(self) -> dict[str, object]:
        """The stage's keys and the device as keyword arguments (for train_network)."""
        return {**asdict(self.recipe()), "device": self.device}
