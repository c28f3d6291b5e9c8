"""The real Fashion-MNIST files of the Debian package: sizes, classes, and exact CAT conversion.

`.ci/run` installs `dataset-fashion-mnist` and sets DSE_CI=1, so in CI these tests run
(a missing package fails them); elsewhere they skip with the install line when the files
are absent.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from dse.builtin.codings import TTFSLogCoding
from dse.builtin.datasets.idx import (
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_IMAGES,
    TRAIN_LABELS,
    FashionMNIST,
    read_idx,
)
from dse.builtin.quantizers import LogQuantizer
from dse.builtin.training import ConversionAwareTraining
from dse.registry.discovery import CONF_DIR


@pytest.fixture(scope="module")
def fashion() -> FashionMNIST:
    dataset = FashionMNIST()
    missing = [p for p in dataset.files().values() if not p.is_file()]
    if missing:
        message = (
            f"Fashion-MNIST files absent ({missing[0]}): apt-get install dataset-fashion-mnist"
        )
        if os.environ.get("DSE_CI") == "1":
            pytest.fail(message + " (CI must install it: .ci/run)")
        pytest.skip(message)
    return dataset


def test_published_sizes_and_balanced_classes(fashion: FashionMNIST) -> None:
    files = fashion.files()
    for images, labels, n in (
        (TRAIN_IMAGES, TRAIN_LABELS, 60_000),
        (TEST_IMAGES, TEST_LABELS, 10_000),
    ):
        x, y = read_idx(files[images]), read_idx(files[labels])
        assert x.shape == (n, 28, 28) and y.shape == (n,)
        assert np.bincount(y).tolist() == [n // 10] * 10  # 6,000 / 1,000 per class
        assert 0 < x.mean() < 255 and x.max() == 255
    data = fashion.load()
    assert (len(data.train), len(data.val), len(data.test)) == (54_000, 6_000, 10_000)
    assert torch.bincount(data.val.y).tolist() == [600] * 10


def _cat_on_real_images(model: str, coding, images: int, **model_keys):  # noqa: ANN001, ANN202
    """A short CAT run (log 5-bit, 2 epochs) of conf/model/<model>.yaml on the first
    ``images`` real training images, converted and simulated on 1,000 real test images:
    (architecture, ANN predictions, simulation result, the test split)."""
    data = FashionMNIST(limit=images, augment=False).load()
    node = OmegaConf.load(CONF_DIR / "model" / f"{model}.yaml")
    for key, value in model_keys.items():
        node[key] = value
    arch = instantiate(node).build(data.input_shape, data.num_classes)
    quantizer = LogQuantizer(5)
    ann = ConversionAwareTraining(epochs=2, batch_size=128, lr=2e-3).fit(
        arch, data, quantizer, coding, seed=0
    )
    snn = coding.convert(ann, quantizer, data.train)
    test = type(data.test)(data.test.x[:1000], data.test.y[:1000])
    with torch.no_grad():
        ann_predictions = ann.module(test.x).argmax(1)
    return arch, ann_predictions, coding.simulate(snn, test), test


def test_cat_subset_converts_with_exactly_zero_loss(fashion: FashionMNIST) -> None:
    """A short CAT run (log 5-bit, ttfs_log T = 8) on 2,000 images: SNN == ANN, prediction
    for prediction, on 1,000 real test images."""
    _, ann_predictions, result, _ = _cat_on_real_images(
        "fashion_cnn", TTFSLogCoding(time_window=8), 2000
    )
    assert torch.equal(torch.as_tensor(result.predictions), ann_predictions)
    assert result.accuracy > 40.0  # it learned (chance: 10 %): the equality is not trivial


def test_rate_cat_with_average_pooling_converts_within_a_point(fashion: FashionMNIST) -> None:
    """Rate coding, T = 32, CAT on 3,000 real images with fashion_vgg's pools averaged: the
    time-stepped SNN agrees with its ANN within 1 point on 1,000 real test images (with max
    pooling the spike counts of a pool over-count: README, Fashion-MNIST)."""
    from dse.builtin.codings import RateCoding

    arch, ann_predictions, result, test = _cat_on_real_images(
        "fashion_vgg", RateCoding(time_window=32), 3000, pool="avg"
    )
    assert "AvgPool2d" in {type(layer).__name__ for layer in arch.layers}
    ann_accuracy = 100.0 * float((ann_predictions == test.y).float().mean())
    assert ann_accuracy > 40.0  # it learned (chance: 10 %)
    assert abs(ann_accuracy - result.accuracy) <= 1.0, (ann_accuracy, result.accuracy)
