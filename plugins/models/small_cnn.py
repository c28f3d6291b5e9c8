"""A small VGG-style CNN: sized for 8x8 digits by default, for 28x28 images by config."""

from __future__ import annotations

from dse.api.architecture import POOLS, Architecture, Conv2d, Flatten, LayerSpec, Linear, pooling
from dse.api.errors import require
from dse.api.interfaces import ModelBuilder


class SmallCNN(ModelBuilder):
    """Small VGG-style CNN (3x3 convs, 2x2 pools, linear read-out) for CPU-sized inputs.

    Default for (1, 8, 8) (``small_cnn``): conv16 - conv32 - maxpool - conv32 - flatten
    (512) - linear(10). ``fashion_cnn`` sizes it for 28x28: conv32 - pool - conv32 -
    conv64 - pool - conv64 - pool - flatten (576) - linear(256) - linear(10), batch norm.
    Convolutions are 3x3 with padding 1 so an 8x8 input keeps its size; a 2x2 pool
    follows each conv whose 1-based position is in ``pool_after``: ``pool=max`` (exact in
    TTFS coding: the earliest spike) or ``pool=avg`` (rate coding's pooling: a max pool of
    spike counts over-counts, docs/PLUGINS.md; TTFS-log refuses it). ``hidden`` > 0 adds a
    hidden linear layer of that width before the read-out.
    """

    def __init__(
        self,
        channels: tuple[int, ...] = (16, 32, 32),
        hidden: int = 0,
        pool_after: tuple[int, ...] = (2,),
        batch_norm: bool = False,
        pool: str = "max",
    ) -> None:
        require(pool in POOLS, "model.pool", f"must be one of {POOLS}", pool)
        channels = tuple(int(c) for c in channels)
        pool_after = tuple(int(p) for p in pool_after)
        require(len(channels) >= 1, "model.channels", "must list at least one conv", channels)
        require(all(c >= 1 for c in channels), "model.channels", "must all be >= 1", channels)
        require(hidden >= 0, "model.hidden", "must be >= 0 (0: no hidden layer)", hidden)
        require(
            all(1 <= p <= len(channels) for p in pool_after),
            "model.pool_after",
            f"must hold conv positions 1..{len(channels)}",
            pool_after,
        )
        self.channels = channels
        self.hidden = int(hidden)
        self.pool_after = pool_after
        self.batch_norm = bool(batch_norm)
        self.pool = pool

    def build(self, input_shape: tuple[int, int, int], num_classes: int) -> Architecture:
        side = min(input_shape[1:])
        pools = len(set(self.pool_after))
        require(
            side >= 2**pools,
            "model (small_cnn)",
            f"needs inputs of at least {2**pools}x{2**pools} for {pools} pooling(s)",
            input_shape,
        )
        layers: list[LayerSpec] = []
        for i, c in enumerate(self.channels, start=1):
            layers.append(Conv2d(c, kernel=3, stride=1, padding=1, batch_norm=self.batch_norm))
            if i in self.pool_after:
                layers.append(pooling(self.pool))
        layers.append(Flatten())
        if self.hidden:
            layers.append(Linear(self.hidden))
        layers.append(Linear(num_classes))
        return Architecture("small_cnn", tuple(input_shape), num_classes, tuple(layers))
