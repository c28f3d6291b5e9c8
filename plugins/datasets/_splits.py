"""What the dataset plugins share: split fractions and carving validation out of train."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dse.api.errors import require
from dse.api.interfaces import DataSplits


def check_fractions(val_fraction: float, test_fraction: float | None = None) -> None:
    """Each fraction in (0, 1) and, with a test fraction, their sum below 1."""
    require(0 < val_fraction < 1, "dataset.val_fraction", "must be in (0, 1)", val_fraction)
    if test_fraction is None:
        return
    require(0 < test_fraction < 1, "dataset.test_fraction", "must be in (0, 1)", test_fraction)
    require(
        val_fraction + test_fraction < 1,
        "dataset.val_fraction + dataset.test_fraction",
        "must be < 1",
        val_fraction + test_fraction,
    )


def with_validation(
    x_train: Any,
    y_train: Any,
    x_test: Any,
    y_test: Any,
    *,
    val_fraction: float,
    split_seed: int,
    num_classes: int,
    input_shape: tuple[int, int, int],
    augment: Callable | None,
) -> DataSplits:
    """Published train/test arrays -> splits, validation carved (stratified) from train."""
    import numpy as np
    import torch

    from dse.api.data import stratified_split, subset
    from dse.api.interfaces import Split

    train_idx, val_idx = stratified_split(y_train, (val_fraction,), split_seed)
    full = Split(torch.from_numpy(x_train), torch.from_numpy(y_train))
    return DataSplits(
        train=subset(full, train_idx),
        val=subset(full, val_idx),
        test=Split(torch.from_numpy(x_test), torch.from_numpy(y_test.astype(np.int64))),
        num_classes=num_classes,
        input_shape=input_shape,
        augment=augment,
    )
