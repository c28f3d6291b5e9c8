"""Datasets and the batching helper: real readers on fake files in the published formats."""

from __future__ import annotations

import inspect
from pathlib import Path

import hydra.utils
import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from dse.api.data import RandomCropFlip, batches, random_crop_flip, stratified_split, to_float
from dse.api.errors import ConfigError, DatasetError
from dse.api.interfaces import Dataset, Split
from dse.builtin.datasets.cifar import Cifar10, Cifar100
from dse.builtin.datasets.digits import Digits
from dse.builtin.datasets.idx import MNIST, FashionMNIST
from dse.builtin.datasets.synthetic import Synthetic
from dse.builtin.datasets.tiny_imagenet import TinyImageNet
from tests.support.datasets import (
    TINY_WNIDS,
    colour,
    dump_pickle,
    make_cifar10,
    make_cifar100,
    make_tiny,
)

CONF = Path(__file__).resolve().parents[3] / "conf"


# --------------------------------------------------------------------------- fake files


def _ids(split: Split) -> np.ndarray:
    """The sample ids encoded by image_rows."""
    x = split.x.numpy().astype(np.int64)
    return x[:, 1, 0, 0] + 256 * x[:, 2, 0, 0]


# --------------------------------------------------------------------------- CIFAR


@pytest.mark.parametrize("parent", [True, False], ids=["root=parent", "root=folder"])
def test_cifar10_reads_published_format(tmp_path: Path, parent: bool) -> None:
    folder = make_cifar10(tmp_path)
    data = Cifar10(root=str(tmp_path if parent else folder), val_fraction=0.2).load()
    assert data.num_classes == 10 and data.input_shape == (3, 32, 32)
    assert len(data.train) == 80 and len(data.val) == 20 and len(data.test) == 20
    for split in (data.train, data.val, data.test):
        assert split.x.dtype == torch.uint8 and split.x.shape[1:] == (3, 32, 32)
        assert split.y.dtype == torch.int64
        ids = _ids(split)
        # Each plane is constant and holds what was written: the CHW reshape is right.
        assert torch.equal(split.x[:, 0], split.y[:, None, None].to(torch.uint8).expand(-1, 32, 32))
        assert (split.x[:, 1] == split.x[:, 1, :1, :1]).all()
        assert np.array_equal(split.y.numpy(), ids % 10)
    train_ids, val_ids = set(_ids(data.train)), set(_ids(data.val))
    assert not train_ids & val_ids and train_ids | val_ids == set(range(100))
    assert set(_ids(data.test)) == set(range(100, 120))
    # stratified: 20 % of each class's 10 training images
    assert np.bincount(data.val.y.numpy(), minlength=10).tolist() == [2] * 10
    assert isinstance(data.augment, RandomCropFlip) and data.augment.padding == 4


def test_cifar100_fine_labels_limit_and_no_augment(tmp_path: Path) -> None:
    make_cifar100(tmp_path)
    data = Cifar100(root=str(tmp_path), val_fraction=0.5, augment=False, limit=200).load()
    assert data.num_classes == 100 and data.augment is None
    assert len(data.train) + len(data.val) == 200 and len(data.test) == 100
    assert set(_ids(data.train)) | set(_ids(data.val)) == set(range(200))  # the first 200
    assert np.array_equal(data.test.y.numpy(), np.arange(300, 400) % 100)
    assert data.train.y.max() < 100


def test_cifar_split_deterministic_for_seed(tmp_path: Path) -> None:
    make_cifar10(tmp_path)
    a = Cifar10(root=str(tmp_path), split_seed=1).load()
    b = Cifar10(root=str(tmp_path), split_seed=1).load()
    c = Cifar10(root=str(tmp_path), split_seed=2).load()
    assert np.array_equal(_ids(a.val), _ids(b.val))
    assert not np.array_equal(_ids(a.val), _ids(c.val))


def test_cifar_missing_root_names_path_layout_and_no_download(tmp_path: Path) -> None:
    root = tmp_path / "nowhere"
    with pytest.raises(DatasetError) as err:
        Cifar10(root=str(root)).check()
    msg = str(err.value)
    assert str(root) in msg and "does not exist" in msg
    for name in ["cifar-10-batches-py", *(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]:
        assert name in msg
    assert "Nothing is downloaded" in msg
    with pytest.raises(DatasetError):  # load() checks first
        Cifar100(root=str(root)).load()


def test_cifar_incomplete_root_names_missing_files(tmp_path: Path) -> None:
    folder = make_cifar10(tmp_path)
    (folder / "data_batch_3").unlink()
    (folder / "test_batch").unlink()
    with pytest.raises(DatasetError, match=r"lacks data_batch_3, test_batch"):
        Cifar10(root=str(tmp_path)).load()
    make_cifar100(tmp_path)
    (tmp_path / "cifar-100-python" / "test").unlink()
    with pytest.raises(DatasetError, match=r"lacks test\b.*\n.*cifar-100-python/\n.*train"):
        Cifar100(root=str(tmp_path)).check()


def test_cifar_wrong_file_content_is_a_dataset_error(tmp_path: Path) -> None:
    folder = make_cifar10(tmp_path)
    dump_pickle(folder / "test_batch", {"fine_labels": [0], "data": np.zeros((1, 3072), np.uint8)})
    with pytest.raises(DatasetError, match="no 'labels' entry"):
        Cifar10(root=str(tmp_path)).load()


class _Payload:
    """Unpickling this would run a shell command creating ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        import os

        return (os.system, (f"touch {self.marker}",))


def test_cifar_planted_or_garbage_batch_is_an_error_never_executed(tmp_path: Path) -> None:
    folder = make_cifar10(tmp_path / "data")
    marker = tmp_path / "executed"
    dump_pickle(folder / "data_batch_3", {"data": _Payload(marker), "labels": [0]})
    with pytest.raises(DatasetError, match=r"data_batch_3: not a CIFAR python batch.*refusing"):
        Cifar10(root=str(tmp_path / "data")).load()
    assert not marker.exists()
    (folder / "data_batch_3").write_bytes(b"garbage, not a pickle")
    with pytest.raises(DatasetError, match="data_batch_3: not a CIFAR python batch"):
        Cifar10(root=str(tmp_path / "data")).load()


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"val_fraction": 0.0}, "dataset.val_fraction"),
        ({"val_fraction": 1.0}, "dataset.val_fraction"),
        ({"limit": 5}, "dataset.limit"),
    ],
)
def test_cifar_config_validation(kwargs: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        Cifar10(**kwargs)


# --------------------------------------------------------------------------- Tiny-ImageNet


def test_tiny_imagenet_garbage_image_is_a_dataset_error(tmp_path: Path) -> None:
    folder = make_tiny(tmp_path)
    bad = folder / "val" / "images" / "val_3.JPEG"
    bad.write_bytes(b"\xff\xd8 not really a JPEG" * 20)
    with pytest.raises(DatasetError, match="val_3.JPEG: not a readable image"):
        TinyImageNet(root=str(tmp_path)).load()


def test_tiny_imagenet_reads_standard_layout(tmp_path: Path) -> None:
    make_tiny(tmp_path)
    data = TinyImageNet(root=str(tmp_path), val_fraction=0.25).load()
    assert data.num_classes == 3 and data.input_shape == (3, 64, 64)
    assert len(data.train) == 9 and len(data.val) == 3 and len(data.test) == 6
    assert np.bincount(data.val.y.numpy(), minlength=3).tolist() == [1, 1, 1]
    order = sorted(TINY_WNIDS)
    assert data.test.y.tolist() == [order.index(TINY_WNIDS[i % 3]) for i in range(6)]
    for split in (data.train, data.val, data.test):
        assert split.x.dtype == torch.uint8 and split.x.shape[1:] == (3, 64, 64)
        for x, y in zip(split.x, split.y, strict=True):
            mean = x.float().mean(dim=(1, 2))
            if float(mean.max() - mean.min()) < 1:  # a greyscale image: channels equal
                continue
            assert torch.allclose(mean, torch.tensor(colour(int(y)), dtype=torch.float), atol=3)
    assert isinstance(data.augment, RandomCropFlip)


def test_tiny_imagenet_folder_root_and_interleaved_limit(tmp_path: Path) -> None:
    folder = make_tiny(tmp_path)
    data = TinyImageNet(root=str(folder), val_fraction=0.5, limit=6, augment=False).load()
    labels = torch.cat([data.train.y, data.val.y])
    assert sorted(labels.tolist()) == [0, 0, 1, 1, 2, 2]  # the first 6 cover every class
    assert data.augment is None


def test_tiny_imagenet_missing_and_incomplete(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as err:
        TinyImageNet(root=str(tmp_path / "absent")).load()
    msg = str(err.value)
    assert str(tmp_path / "absent") in msg and "Nothing is downloaded" in msg
    for part in ("wnids.txt", "train/<wnid>/images", "val/images", "val/val_annotations.txt"):
        assert part in msg
    folder = make_tiny(tmp_path)
    (folder / "val" / "val_annotations.txt").unlink()
    for f in (folder / "train" / TINY_WNIDS[1] / "images").iterdir():
        f.unlink()
    (folder / "train" / TINY_WNIDS[1] / "images").rmdir()
    with pytest.raises(DatasetError) as err:
        TinyImageNet(root=str(tmp_path)).check()
    msg = str(err.value)
    assert "val/val_annotations.txt" in msg and f"train/{TINY_WNIDS[1]}/images" in msg


# --------------------------------------------------------------------------- digits, synthetic


def test_digits_split_sizes_range_and_stratification() -> None:
    data = Digits().load()
    assert data.num_classes == 10 and data.input_shape == (1, 8, 8) and data.augment is None
    assert len(data.train) + len(data.val) + len(data.test) == 1797
    for split in (data.train, data.val, data.test):
        assert split.x.dtype == torch.float32 and split.x.shape[1:] == (1, 8, 8)
        assert split.x.min() >= 0 and split.x.max() <= 1
    assert data.train.x.max() == 1.0  # 16 maps to 1: scaled by 16, not by 255
    from sklearn.datasets import load_digits

    per_class = np.bincount(load_digits().target)
    for split in (data.val, data.test):
        counts = np.bincount(split.y.numpy(), minlength=10)
        assert np.abs(counts - 0.15 * per_class).max() <= 0.5 + 1e-9


def test_digits_split_deterministic_and_seeded() -> None:
    a, b, c = Digits().load(), Digits().load(), Digits(split_seed=1).load()
    assert torch.equal(a.test.x, b.test.x) and torch.equal(a.train.y, b.train.y)
    assert not torch.equal(a.test.x, c.test.x)


def test_stratified_split_disjoint_complete_proportional() -> None:
    labels = np.repeat(np.arange(5), [10, 20, 30, 40, 7])
    rest, val, test = stratified_split(labels, (0.2, 0.1), seed=3)
    together = np.concatenate([rest, val, test])
    assert len(together) == len(labels) and set(together) == set(range(len(labels)))
    assert np.bincount(labels[val]).tolist() == [2, 4, 6, 8, 1]
    assert np.bincount(labels[test]).tolist() == [1, 2, 3, 4, 1]
    again = stratified_split(labels, (0.2, 0.1), seed=3)
    assert all(np.array_equal(p, q) for p, q in zip((rest, val, test), again, strict=True))


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"val_fraction": 0.0}, "dataset.val_fraction"),
        ({"test_fraction": 1.2}, "dataset.test_fraction"),
        ({"val_fraction": 0.5, "test_fraction": 0.5}, "dataset.val_fraction"),
    ],
)
def test_digits_config_validation(kwargs: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        Digits(**kwargs)


def test_synthetic_shapes_balance_determinism() -> None:
    ds = Synthetic(num_samples=300, num_classes=3, image_size=10, channels=2, seed=4)
    data = ds.load()
    assert data.input_shape == (2, 10, 10) and data.num_classes == 3
    assert len(data.train) + len(data.val) + len(data.test) == 300
    assert data.train.x.dtype == torch.float32 and data.train.x.shape[1:] == (2, 10, 10)
    assert 0 <= data.train.x.min() and data.train.x.max() <= 1
    assert np.bincount(data.test.y.numpy()).tolist() == [15, 15, 15]
    again = Synthetic(num_samples=300, num_classes=3, image_size=10, channels=2, seed=4).load()
    assert torch.equal(data.train.x, again.train.x)
    other = Synthetic(num_samples=300, num_classes=3, image_size=10, channels=2, seed=5).load()
    assert not torch.equal(data.train.x, other.train.x)


def test_synthetic_is_learnable_but_not_trivial() -> None:
    from sklearn.linear_model import LogisticRegression

    data = Synthetic().load()
    flat = lambda s: s.x.reshape(len(s), -1).numpy()  # noqa: E731
    clf = LogisticRegression(max_iter=500).fit(flat(data.train), data.train.y.numpy())
    acc = clf.score(flat(data.test), data.test.y.numpy())
    assert acc > 0.7  # chance is 0.25
    noisy = Synthetic(noise=3.0).load()  # noise swamps the patterns: the labels matter
    clf = LogisticRegression(max_iter=500).fit(flat(noisy.train), noisy.train.y.numpy())
    assert clf.score(flat(noisy.test), noisy.test.y.numpy()) < acc


# --------------------------------------------------------------------------- batches, augment


def test_batches_uint8_to_float_and_order() -> None:
    x = torch.arange(10 * 3 * 2 * 2, dtype=torch.int64).remainder(256).to(torch.uint8)
    split = Split(x.reshape(10, 3, 2, 2), torch.arange(10))
    out = list(batches(split, 4))
    assert [len(y) for _, y in out] == [4, 4, 2]
    xb, yb = out[0]
    assert xb.dtype == torch.float32 and yb.dtype == torch.int64
    assert torch.equal(xb, split.x[:4].float() / 255)
    assert torch.equal(torch.cat([y for _, y in out]), torch.arange(10))
    assert split.x.dtype == torch.uint8  # the split itself stays uint8


def test_batches_shuffle_is_a_seeded_permutation() -> None:
    split = Split(torch.rand(50, 1, 2, 2), torch.arange(50))

    def order(seed: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed)
        return torch.cat([y for _, y in batches(split, 8, shuffle=True, generator=g)])

    a, b, c = order(0), order(0), order(1)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert sorted(a.tolist()) == list(range(50)) and not torch.equal(a, torch.arange(50))
    # x stays paired with y
    g = torch.Generator().manual_seed(0)
    for xb, yb in batches(split, 8, shuffle=True, generator=g):
        assert torch.equal(xb, split.x[yb])


def test_batches_apply_augment_with_the_generator() -> None:
    split = Split(torch.rand(16, 3, 6, 6), torch.arange(16))
    aug = random_crop_flip(2)

    def run(seed: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed)
        return torch.cat([x for x, _ in batches(split, 5, shuffle=True, generator=g, augment=aug)])

    assert torch.equal(run(7), run(7)) and not torch.equal(run(7), run(8))


def _candidates(image: torch.Tensor, p: int) -> list[torch.Tensor]:
    """Every crop (zero padding p) and flip of one image, computed naively."""
    _, h, w = image.shape
    padded = torch.nn.functional.pad(image, (p, p, p, p))
    out = []
    for dy in range(2 * p + 1):
        for dx in range(2 * p + 1):
            crop = padded[:, dy : dy + h, dx : dx + w]
            out += [crop, crop.flip(-1)]
    return out


def test_random_crop_flip_is_a_crop_of_the_padded_image() -> None:
    torch.manual_seed(0)
    x = torch.rand(40, 3, 5, 7) + 0.1  # > 0 so zero padding is recognisable
    g = torch.Generator().manual_seed(0)
    out = random_crop_flip(2)(x, g)
    assert out.shape == x.shape
    offsets, flips = set(), set()
    for img, res in zip(x, out, strict=True):
        matches = [i for i, c in enumerate(_candidates(img, 2)) if torch.equal(c, res)]
        assert len(matches) == 1, "output is not a padded crop (or its mirror) of the input"
        offsets.add(divmod(matches[0] // 2, 5))  # (dy, dx), each in 0..2p
        flips.add(matches[0] % 2)
    # 40 draws from 25 independent (dy, dx) offsets and 2 flips: both vary independently
    assert len(offsets) >= 12 and flips == {0, 1}
    g2 = torch.Generator().manual_seed(0)
    assert torch.equal(random_crop_flip(2)(x, g2), out)


def test_random_crop_flip_without_padding_only_flips() -> None:
    x = torch.rand(64, 1, 4, 4)
    out = random_crop_flip(0)(x, torch.Generator().manual_seed(1))
    flipped = torch.tensor([torch.equal(o, i.flip(-1)) for o, i in zip(out, x, strict=True)])
    same = torch.tensor([torch.equal(o, i) for o, i in zip(out, x, strict=True)])
    assert bool((flipped | same).all()) and 16 < int(flipped.sum()) < 48  # about half


def test_to_float_scales_uint8_only() -> None:
    assert torch.equal(
        to_float(torch.tensor([0, 255], dtype=torch.uint8)), torch.tensor([0.0, 1.0])
    )
    assert torch.equal(to_float(torch.tensor([0.5], dtype=torch.float64)), torch.tensor([0.5]))


# --------------------------------------------------------------------------- configs


@pytest.mark.parametrize(
    "name, cls",
    [
        ("digits", Digits),
        ("synthetic", Synthetic),
        ("cifar10", Cifar10),
        ("cifar100", Cifar100),
        ("tiny_imagenet", TinyImageNet),
        ("fashion_mnist", FashionMNIST),
        ("mnist", MNIST),
    ],
)
def test_dataset_yaml_matches_constructor(name: str, cls: type) -> None:
    node = OmegaConf.load(CONF / "dataset" / f"{name}.yaml")
    params = set(inspect.signature(cls.__init__).parameters) - {"self"}
    assert set(node) - {"_target_"} == params
    obj = hydra.utils.instantiate(node)
    assert type(obj) is cls and isinstance(obj, Dataset)
    for key, value in OmegaConf.to_container(node).items():
        if key != "_target_":
            assert getattr(obj, key) == value, key
    assert callable(getattr(obj, "check", None))  # the orchestrator calls it before training
    assert obj.__dict__ == cls().__dict__  # the YAML holds the constructor's defaults
