"""A small generated dataset for fast tests: class prototypes plus noise."""

from __future__ import annotations

from dse.api.errors import require
from dse.api.interfaces import Dataset, DataSplits
from dse.builtin.datasets._splits import check_fractions


class Synthetic(Dataset):
    """Generated images (class-specific stripe + blob patterns with noise) for fast tests.

    Each class has a fixed prototype: a stripe pattern whose orientation and frequency
    depend on the class, plus a bright blob at a class-specific place. A sample is its
    class prototype at a random contrast, shifted by up to one pixel, plus Gaussian
    noise, clipped to [0, 1]. A tiny CNN learns it well above chance in an epoch or two.
    Classes are balanced; the split is stratified; everything follows from ``seed``.
    """

    def __init__(
        self,
        num_samples: int = 600,
        num_classes: int = 4,
        image_size: int = 8,
        channels: int = 1,
        noise: float = 0.2,
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        seed: int = 0,
    ) -> None:
        require(num_classes >= 2, "dataset.num_classes", "must be >= 2", num_classes)
        require(
            num_samples >= 4 * num_classes,
            "dataset.num_samples",
            f"must be >= 4 x num_classes = {4 * num_classes}",
            num_samples,
        )
        require(image_size >= 4, "dataset.image_size", "must be >= 4", image_size)
        require(channels >= 1, "dataset.channels", "must be >= 1", channels)
        require(noise >= 0, "dataset.noise", "must be >= 0", noise)
        check_fractions(val_fraction, test_fraction)
        self.num_samples = int(num_samples)
        self.num_classes = int(num_classes)
        self.image_size = int(image_size)
        self.channels = int(channels)
        self.noise = float(noise)
        self.val_fraction = float(val_fraction)
        self.test_fraction = float(test_fraction)
        self.seed = int(seed)

    def check(self) -> None:
        """Nothing to check: the data is generated."""

    def prototypes(self):  # noqa: ANN201 - numpy array, numpy imported lazily
        """(num_classes, channels, size, size) float prototypes in [0, 1]."""
        import numpy as np

        s, c = self.image_size, self.channels
        rng = np.random.default_rng(self.seed)
        yy, xx = np.mgrid[0:s, 0:s] / s
        protos = np.zeros((self.num_classes, c, s, s))
        for k in range(self.num_classes):
            angle = np.pi * k / self.num_classes
            freq = 1.0 + (k % 3)
            stripes = 0.5 + 0.5 * np.cos(
                2 * np.pi * freq * (np.cos(angle) * xx + np.sin(angle) * yy)
            )
            cy, cx = rng.uniform(0.2, 0.8, size=2)
            blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 0.15**2))
            for ch in range(c):
                # channels differ by a class-and-channel specific mix of the two patterns
                mix = rng.uniform(0.3, 0.7)
                protos[k, ch] = mix * stripes + (1 - mix) * blob
        return protos

    def load(self) -> DataSplits:
        import numpy as np
        import torch

        from dse.api.data import stratified_split, subset
        from dse.api.interfaces import Split

        rng = np.random.default_rng(self.seed + 1)  # +1: independent of the prototypes' stream
        protos = self.prototypes()
        n = self.num_samples
        labels = rng.permutation(np.arange(n) % self.num_classes)
        contrast = rng.uniform(0.6, 1.0, size=(n, 1, 1, 1))
        images = protos[labels] * contrast
        shifts = rng.integers(-1, 2, size=(n, 2))
        for i, (dy, dx) in enumerate(shifts):
            images[i] = np.roll(images[i], (int(dy), int(dx)), axis=(-2, -1))
        images = images + self.noise * rng.standard_normal(images.shape)
        images = np.clip(images, 0.0, 1.0)

        full = Split(
            torch.as_tensor(images, dtype=torch.float32),
            torch.as_tensor(labels, dtype=torch.int64),
        )
        train, val, test = stratified_split(
            labels, (self.val_fraction, self.test_fraction), self.seed
        )
        return DataSplits(
            train=subset(full, train),
            val=subset(full, val),
            test=subset(full, test),
            num_classes=self.num_classes,
            input_shape=(self.channels, self.image_size, self.image_size),
        )
