"""Batching, augmentation and split helpers shared by datasets and training methods.

Large image sets stay uint8 in memory (CIFAR train: 150 MB as uint8, 600 MB as float32);
:func:`batches` converts each batch to float32 in [0, 1] on the fly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from dse.api.interfaces import Split

Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def batches(
    split: Split,
    batch_size: int,
    *,
    shuffle: bool = False,
    generator: torch.Generator | None = None,
    augment: Augment | None = None,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield (x, y) batches: x float32 in [0, 1] of shape (B, C, H, W), y int64 of shape (B,).

    With ``shuffle`` the order is a permutation drawn from ``generator``; ``augment(x,
    generator)`` is applied to each float batch. The same generator state gives the same
    batches, so training is deterministic for a seed.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1 (got {batch_size})")
    n = len(split)
    order = torch.randperm(n, generator=generator) if shuffle else None
    for start in range(0, n, batch_size):
        if order is None:
            x, y = split.x[start : start + batch_size], split.y[start : start + batch_size]
        else:
            idx = order[start : start + batch_size]
            x, y = split.x[idx], split.y[idx]
        x = to_float(x)
        if augment is not None:
            x = augment(x, generator if generator is not None else torch.default_generator)
        yield x, y.long()


def to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 images in [0, 255] -> float32 in [0, 1]; float input is returned as float32."""
    if x.dtype == torch.uint8:
        return x.to(torch.float32) / 255.0
    return x.to(torch.float32)


class RandomCropFlip:
    """Random crop after zero padding plus random horizontal flip, per sample.

    The standard CIFAR augmentation (pad 4, crop back to the input size, flip with
    probability 1/2; He et al. 2016, "Deep Residual Learning", section 4.2), vectorised
    over the batch and driven only by the given generator. ``flip=False`` only crops
    (for images whose mirror image is another class, such as digits).
    """

    def __init__(self, padding: int = 4, flip: bool = True) -> None:
        if padding < 0:
            raise ValueError(f"padding must be >= 0 (got {padding})")
        self.padding = padding
        self.flip = flip

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        n, _, h, w = x.shape
        p = self.padding
        # Draw on the generator's device (CPU), then move: keeps results device-independent.
        dy = torch.randint(0, 2 * p + 1, (n,), generator=generator).to(x.device)
        dx = torch.randint(0, 2 * p + 1, (n,), generator=generator).to(x.device)
        flip = (torch.rand(n, generator=generator) < 0.5).to(x.device)
        if p > 0:
            padded = F.pad(x, (p, p, p, p))
            rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]
            cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]
            batch = torch.arange(n, device=x.device)[:, None, None, None]
            chan = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
            x = padded[batch, chan, rows, cols]
        if not self.flip:
            return x
        return torch.where(flip[:, None, None, None], x.flip(-1), x)

    def __repr__(self) -> str:
        return f"RandomCropFlip(padding={self.padding}, flip={self.flip})"


def random_crop_flip(padding: int = 4, flip: bool = True) -> RandomCropFlip:
    """The augment callable ``f(x, generator)`` used by CIFAR, Tiny-ImageNet and MNIST."""
    return RandomCropFlip(padding, flip)


def stratified_split(labels: np.ndarray, fractions: Sequence[float], seed: int) -> list[np.ndarray]:
    """Split sample indices into parts (the remainder first, then one per fraction).

    Per class, ``round(fraction * class size)`` samples go to each fractional part, drawn
    with a seeded permutation; the rest is part 0. Indices in each part are sorted, so
    the result is deterministic for a seed and every part keeps the class proportions.
    """
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[] for _ in range(len(fractions) + 1)]
    for cls in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == cls))
        start = 0
        for k, frac in enumerate(fractions, start=1):
            count = int(round(frac * len(idx)))
            parts[k].append(idx[start : start + count])
            start += count
        parts[0].append(idx[start:])
    return [np.sort(np.concatenate(p)) if p else np.zeros(0, dtype=np.int64) for p in parts]


def subset(split: Split, index: np.ndarray) -> Split:
    """The samples of ``split`` at ``index`` (copied, contiguous)."""
    idx = torch.as_tensor(index, dtype=torch.long)
    return Split(split.x[idx].contiguous(), split.y[idx].contiguous())
