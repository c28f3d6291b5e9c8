"""scikit-learn's bundled handwritten digits: the embedded default dataset."""

from __future__ import annotations

from dse.api.interfaces import Dataset, DataSplits
from dse.builtin.datasets._splits import check_fractions

# load_digits() pixel values are counts of on-pixels in 4x4 blocks of a 32x32 bitmap:
# integers 0..16 (scikit-learn docs, "Optical recognition of handwritten digits dataset").
_MAX_PIXEL = 16.0


class Digits(Dataset):
    """Handwritten digits 8x8 (1,797 images, 10 classes), bundled with scikit-learn: no download.

    Stratified train / val / test split with a fixed seed; pixels scaled to [0, 1]; no
    augmentation (8x8 images leave no room for crops).
    """

    def __init__(
        self, val_fraction: float = 0.15, test_fraction: float = 0.15, split_seed: int = 0
    ) -> None:
        check_fractions(val_fraction, test_fraction)
        self.val_fraction = float(val_fraction)
        self.test_fraction = float(test_fraction)
        self.split_seed = int(split_seed)

    def check(self) -> None:
        """Nothing to check: the data ships inside the scikit-learn wheel."""

    def load(self) -> DataSplits:
        import torch
        from sklearn.datasets import load_digits

        from dse.api.data import stratified_split, subset
        from dse.api.interfaces import Split

        raw = load_digits()
        x = torch.as_tensor(raw.data, dtype=torch.float32).reshape(-1, 1, 8, 8) / _MAX_PIXEL
        y = torch.as_tensor(raw.target, dtype=torch.int64)
        train, val, test = stratified_split(
            raw.target, (self.val_fraction, self.test_fraction), self.split_seed
        )
        full = Split(x, y)
        return DataSplits(
            train=subset(full, train),
            val=subset(full, val),
            test=subset(full, test),
            num_classes=10,
            input_shape=(1, 8, 8),
        )
