"""Fake files in the published formats of the built-in datasets (CIFAR-10/100 pickles,
Tiny ImageNet folders, IDX files), small enough to write in a test."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from dse.builtin.datasets.idx import TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS, write_idx


def image_rows(ids: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(N, 3072) uint8 rows: red plane = label, green plane = id % 256, blue = id // 256.

    Planes are constant, so a wrong reshape (e.g. HWC instead of CHW) mixes them and fails.
    """
    rows = np.empty((len(ids), 3, 1024), dtype=np.uint8)
    rows[:, 0] = labels[:, None]
    rows[:, 1] = (ids % 256)[:, None]
    rows[:, 2] = (ids // 256)[:, None]
    return rows.reshape(len(ids), 3072)


def dump_pickle(path: Path, entries: dict[str, object]) -> None:
    # The published files were pickled by Python 2 (protocol 2) with byte-string keys.
    with open(path, "wb") as f:
        pickle.dump({k.encode(): v for k, v in entries.items()}, f, protocol=2)


def make_cifar10(root: Path, per_batch: int = 20) -> Path:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    next_id = 0
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        ids = np.arange(next_id, next_id + per_batch)
        next_id += per_batch
        labels = ids % 10
        dump_pickle(
            folder / name,
            {
                "batch_label": name,
                "labels": labels.tolist(),  # a list of ints, as published
                "data": image_rows(ids, labels),
                "filenames": [f"img_{i}.png".encode() for i in ids],
            },
        )
    dump_pickle(folder / "batches.meta", {"label_names": [f"c{i}" for i in range(10)]})
    return folder


def make_cifar100(root: Path, n_train: int = 300, n_test: int = 100) -> Path:
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    for name, ids in (
        ("train", np.arange(n_train)),
        ("test", np.arange(n_train, n_train + n_test)),
    ):
        fine = ids % 100
        dump_pickle(
            folder / name,
            {
                "filenames": [f"img_{i}.png".encode() for i in ids],
                "batch_label": name,
                "fine_labels": fine.tolist(),
                "coarse_labels": (fine // 5).tolist(),
                "data": image_rows(ids, fine),
            },
        )
    dump_pickle(folder / "meta", {"fine_label_names": [f"f{i}" for i in range(100)]})
    return folder


TINY_WNIDS = ["n02124075", "n01443537", "n09246464"]  # unsorted on purpose


TINY_PER_CLASS = 4


def colour(class_index: int) -> tuple[int, int, int]:
    return (40 + 80 * class_index, 200 - 60 * class_index, 100)


def make_tiny(root: Path) -> Path:
    from PIL import Image

    folder = root / "tiny-imagenet-200"
    (folder / "val" / "images").mkdir(parents=True)
    (folder / "wnids.txt").write_text("\n".join(TINY_WNIDS) + "\n")
    order = sorted(TINY_WNIDS)
    for wnid in TINY_WNIDS:
        images = folder / "train" / wnid / "images"
        images.mkdir(parents=True)
        for j in range(TINY_PER_CLASS):
            img = Image.new("RGB", (64, 64), colour(order.index(wnid)))
            if j == 0:
                img = img.convert("L")  # the real set holds some greyscale JPEGs
            img.save(images / f"{wnid}_{j}.JPEG", format="JPEG", quality=95)
        (folder / "train" / wnid / f"{wnid}_boxes.txt").write_text("")
    lines = []
    for i in range(6):
        wnid = TINY_WNIDS[i % 3]
        Image.new("RGB", (64, 64), colour(order.index(wnid))).save(
            folder / "val" / "images" / f"val_{i}.JPEG", format="JPEG", quality=95
        )
        lines.append(f"val_{i}.JPEG\t{wnid}\t0\t0\t63\t63")
    (folder / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    return folder


def make_root(root: Path, n_train: int = 120, n_test: int = 40, gz: bool = True) -> Path:
    """Four IDX files: image k of a split is filled with k % 256 and labelled k % 10."""
    root.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    for images, labels, n in (
        (TRAIN_IMAGES, TRAIN_LABELS, n_train),
        (TEST_IMAGES, TEST_LABELS, n_test),
    ):
        ids = np.arange(n)
        pixels = np.broadcast_to((ids % 256).astype(np.uint8)[:, None, None], (n, 28, 28))
        write_idx(root / f"{images}{suffix}", pixels)
        write_idx(root / f"{labels}{suffix}", (ids % 10).astype(np.uint8))
    return root
