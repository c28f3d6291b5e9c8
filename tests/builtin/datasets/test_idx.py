"""MNIST-family datasets: the IDX reader on files the tests write, every corrupt-file case."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from dse.api.errors import ConfigError, DatasetError
from dse.builtin.datasets.idx import (
    FILES,
    MNIST,
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_IMAGES,
    TRAIN_LABELS,
    FashionMNIST,
    read_idx,
    write_idx,
)
from tests.support.datasets import make_root


@pytest.mark.parametrize("name", ["a.idx", "a.idx.gz"])
def test_round_trip_plain_and_gzip(tmp_path: Path, name: str) -> None:
    array = np.random.default_rng(0).integers(0, 256, size=(7, 5, 3), dtype=np.uint8)
    write_idx(tmp_path / name, array)
    raw = (tmp_path / name).read_bytes()
    assert (raw[:2] == b"\x1f\x8b") == name.endswith(".gz")
    back = read_idx(tmp_path / name)
    assert back.dtype == np.uint8 and back.shape == (7, 5, 3)
    assert np.array_equal(back, array)


def test_header_is_the_published_layout(tmp_path: Path) -> None:
    write_idx(tmp_path / "labels", np.arange(3, dtype=np.uint8))
    assert (tmp_path / "labels").read_bytes() == bytes([0, 0, 8, 1, 0, 0, 0, 3, 0, 1, 2])


@pytest.mark.parametrize("gz", [True, False])
def test_loads_splits_from_generated_files(tmp_path: Path, gz: bool) -> None:
    data = FashionMNIST(root=str(make_root(tmp_path, gz=gz)), val_fraction=0.25).load()
    assert data.input_shape == (1, 28, 28) and data.num_classes == 10
    assert (len(data.train), len(data.val), len(data.test)) == (90, 30, 40)
    assert data.train.x.dtype == torch.uint8 and data.train.x.shape[1:] == (1, 28, 28)
    # every image is constant k % 256 with label k % 10: images and labels stay paired
    for split in (data.train, data.val, data.test):
        assert torch.equal(split.x[:, 0, 0, 0].long() % 10, split.y)
        assert bool((split.x == split.x[:, :, :1, :1]).all())
    assert torch.equal(data.test.y, torch.arange(40) % 10)  # test keeps the published order
    assert torch.bincount(data.val.y).tolist() == [3] * 10  # stratified


def test_limit_augment_and_flips(tmp_path: Path) -> None:
    root = str(make_root(tmp_path))
    fashion = FashionMNIST(root=root, limit=60, val_fraction=0.5).load()
    assert len(fashion.train) + len(fashion.val) == 60
    assert fashion.augment is not None and fashion.augment.flip  # a mirrored shirt is a shirt
    digits = MNIST(root=root).load()
    assert digits.augment is not None and not digits.augment.flip  # a mirrored 2 is not a 2
    assert MNIST(root=root, augment=False).load().augment is None


def test_missing_root_names_the_files_and_how_to_get_them(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as err:
        FashionMNIST(root=str(tmp_path / "nowhere")).load()
    text = str(err.value)
    assert "does not exist" in text and "apt-get install dataset-fashion-mnist" in text
    assert all(stem in text for stem in FILES)
    with pytest.raises(DatasetError, match="Nothing is downloaded") as err:
        MNIST(root=str(tmp_path / "nowhere")).check()
    assert "apt-get" not in str(err.value)


def test_incomplete_root_names_the_missing_file(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    (root / f"{TEST_LABELS}.gz").unlink()
    with pytest.raises(DatasetError, match=f"lacks {TEST_LABELS}"):
        FashionMNIST(root=str(root)).check()


def _header(type_code: int, *shape: int) -> bytes:
    return bytes([0, 0, type_code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)


# (file to damage, its new bytes, what the error must say); every case names the file.
CORRUPT = {
    "wrong magic": (TRAIN_IMAGES, b"\x08\x03\x00\x00" + bytes(100), "not an IDX file"),
    "wrong type": (TRAIN_LABELS, _header(0x0D, 120) + bytes(480), "not an IDX file"),
    "empty": (TEST_IMAGES, b"", "not an IDX file"),
    "header cut short": (TEST_LABELS, _header(0x08, 40)[:6], "header cut short"),
    "truncated body": (TRAIN_IMAGES, _header(0x08, 120, 28, 28) + bytes(1000), "truncated"),
    "overlong body": (TEST_LABELS, _header(0x08, 40) + bytes(41), "longer than its header"),
    "wrong image size": (
        TEST_IMAGES,
        _header(0x08, 40, 27, 28) + bytes(40 * 27 * 28),
        "(N, 28, 28)",
    ),
    "images not 3-d": (TRAIN_IMAGES, _header(0x08, 120, 784) + bytes(120 * 784), "(N, 28, 28)"),
    "labels not 1-d": (TRAIN_LABELS, _header(0x08, 120, 1) + bytes(120), "shape (N,)"),
    "count mismatch": (TEST_LABELS, _header(0x08, 39) + bytes(39), "39 labels for 40 images"),
    "label out of range": (TRAIN_LABELS, _header(0x08, 120) + bytes([10] * 120), "out of range"),
}


@pytest.mark.parametrize("case", sorted(CORRUPT))
def test_every_corrupt_file_is_one_error_naming_it(tmp_path: Path, case: str) -> None:
    stem, body, message = CORRUPT[case]
    root = make_root(tmp_path, gz=False)
    (root / stem).write_bytes(body)
    with pytest.raises(DatasetError) as err:
        FashionMNIST(root=str(root)).load()
    assert str(root / stem) in str(err.value) and message in str(err.value)


def test_corrupt_gzip_is_one_error_naming_it(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    path = root / f"{TRAIN_IMAGES}.gz"
    path.write_bytes(path.read_bytes()[:50])  # a cut download
    with pytest.raises(DatasetError, match="cannot read it") as err:
        FashionMNIST(root=str(root)).load()
    assert str(path) in str(err.value)
    path.write_bytes(gzip.compress(_header(0x08, 120, 28, 28) + bytes(10))[:-8] + bytes(8))
    with pytest.raises(DatasetError, match=str(path)):
        FashionMNIST(root=str(root)).load()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"val_fraction": 0.0}, "dataset.val_fraction"), ({"limit": 5}, "dataset.limit")],
)
def test_config_validation(kwargs: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        FashionMNIST(**kwargs)


def test_corrupt_file_on_the_command_line_is_one_line(tmp_path: Path) -> None:
    from tests.support.services import run_dse

    root = make_root(tmp_path / "data", gz=False)
    (root / TRAIN_IMAGES).write_bytes(_header(0x08, 120, 28, 28) + bytes(1000))
    done = run_dse(
        [
            "dataset=fashion_mnist",
            f"dataset.root={root}",
            "model=fashion_cnn",
            "training.epochs=1",
            f"paths.outputs={tmp_path}/outputs",
        ],
        cwd=tmp_path,
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr + done.stdout
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and str(root / TRAIN_IMAGES) in lines[0] and "truncated" in lines[0]
