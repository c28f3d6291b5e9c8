"""Keys and validation shared by the training methods."""

from __future__ import annotations

from dse.errors import require

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
    device: str,
) -> None:
    require(epochs >= 0, "training.epochs", "must be >= 0 (0: no training)", epochs)
    require(batch_size >= 1, "training.batch_size", "must be >= 1", batch_size)
    require(lr > 0, "training.lr", "must be > 0", lr)
    require(
        optimizer in _OPTIMIZERS, "training.optimizer", f"must be one of {_OPTIMIZERS}", optimizer
    )
    require(weight_decay >= 0, "training.weight_decay", "must be >= 0", weight_decay)
    require(0 <= momentum < 1, "training.momentum", "must be in [0, 1)", momentum)
    require(
        lr_schedule in _SCHEDULES,
        "training.lr_schedule",
        f"must be one of {_SCHEDULES}",
        lr_schedule,
    )
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


OPTIMIZATION_KEYS = (
    "epochs",
    "batch_size",
    "lr",
    "optimizer",
    "weight_decay",
    "momentum",
    "lr_schedule",
    "device",
)


class OptimizationSettings:
    """The keys every gradient-trained method shares, validated and stored once."""

    def _set_optimization(self, **settings: object) -> None:
        validate_keys(**settings)  # type: ignore[arg-type]
        for key in OPTIMIZATION_KEYS:
            setattr(self, key, settings[key])

    def optimization(self) -> dict[str, object]:
        """The shared keys as keyword arguments (for train_network or a pretraining)."""
        return {key: getattr(self, key) for key in OPTIMIZATION_KEYS}
