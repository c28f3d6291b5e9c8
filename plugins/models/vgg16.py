"""VGG-16 (configuration D of Simonyan & Zisserman, ICLR 2015), the paper's network."""

from __future__ import annotations

from dse.api.architecture import POOLS, Architecture, Conv2d, Flatten, LayerSpec, Linear, pooling
from dse.api.errors import require
from dse.api.interfaces import ModelBuilder

# Configuration "D" (Simonyan & Zisserman 2015, Table 1): 13 3x3 convs, "M" = 2x2 pooling.
CONFIG_D: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M",
)  # fmt: skip
POOLINGS = CONFIG_D.count("M")  # 5: inputs must be at least 2**5 = 32 pixels wide


class VGG16(ModelBuilder):
    """VGG-16: 13 3x3 convs with 5 max poolings, then a two-layer classifier.

    The ImageNet classifier (4096-4096-1000 on a 7x7 map) is replaced, as is usual for
    CIFAR-sized inputs, by flatten -> linear(``classifier_width``) -> linear(classes).
    The flatten size follows from the input: 512 features at 32x32 (1x1 map), 2,048 at
    64x64 (2x2 map). ``pool``: max pooling (the default: exact in TTFS coding, the
    earliest spike) or average pooling (what rate-coded conversion and rate-coded chips
    use; TTFS-log refuses it). ``width_multiplier`` scales every conv's channels (tests).
    """

    def __init__(
        self,
        batch_norm: bool = True,
        classifier_width: int = 512,
        width_multiplier: float = 1.0,
        pool: str = "max",
    ) -> None:
        require(pool in POOLS, "model.pool", f"must be one of {POOLS}", pool)
        require(classifier_width >= 1, "model.classifier_width", "must be >= 1", classifier_width)
        require(
            0 < width_multiplier <= 4,
            "model.width_multiplier",
            "must be in (0, 4]",
            width_multiplier,
        )
        self.batch_norm = bool(batch_norm)
        self.classifier_width = int(classifier_width)
        self.width_multiplier = float(width_multiplier)
        self.pool = pool

    def channels(self, c: int) -> int:
        return max(1, round(c * self.width_multiplier))

    def build(self, input_shape: tuple[int, int, int], num_classes: int) -> Architecture:
        side = 2**POOLINGS
        require(
            min(input_shape[1:]) >= side,
            "model (vgg16)",
            f"needs inputs of at least {side}x{side} for its {POOLINGS} poolings "
            "(use small_cnn for smaller images)",
            input_shape,
        )
        layers: list[LayerSpec] = []
        for item in CONFIG_D:
            if item == "M":
                layers.append(pooling(self.pool))
            else:
                layers.append(Conv2d(self.channels(int(item)), 3, 1, 1, self.batch_norm))
        layers += [Flatten(), Linear(self.classifier_width), Linear(num_classes)]
        return Architecture("vgg16", tuple(input_shape), num_classes, tuple(layers))
