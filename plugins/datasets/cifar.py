"""CIFAR-10 and CIFAR-100, read from the published python pickle batches (never downloaded).

Layout (https://www.cs.toronto.edu/~kriz/cifar.html, "CIFAR-10 python version"): each
batch is a pickled dict whose ``data`` is a uint8 array of shape (N, 3072), row-major
32x32 images with the 1024 red, then green, then blue values; labels are under
``labels`` (CIFAR-10) or ``fine_labels`` (CIFAR-100). The files were pickled by Python 2,
so keys arrive as bytes.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any, ClassVar

from dse.api.errors import DatasetError, require
from dse.api.interfaces import Dataset, DataSplits
from dse.builtin.datasets._splits import check_fractions, with_validation


class _Cifar(Dataset):
    folder: ClassVar[str]
    train_files: ClassVar[tuple[str, ...]]
    test_files: ClassVar[tuple[str, ...]]
    label_key: ClassVar[str]
    num_classes: ClassVar[int]
    name: ClassVar[str]

    def __init__(
        self,
        root: str = "data",
        val_fraction: float = 0.1,
        split_seed: int = 0,
        augment: bool = True,
        limit: int | None = None,
    ) -> None:
        check_fractions(val_fraction)
        require(
            limit is None or limit >= self.num_classes,
            "dataset.limit",
            f"must be null or >= {self.num_classes} (one image per class)",
            limit,
        )
        self.root = str(root)
        self.val_fraction = float(val_fraction)
        self.split_seed = int(split_seed)
        self.augment = bool(augment)
        self.limit = None if limit is None else int(limit)

    def layout(self) -> str:
        files = "\n".join(f"    {f}" for f in (*self.train_files, *self.test_files))
        return f"  {self.folder}/\n{files}"

    def directory(self) -> Path:
        """The folder holding the batches: ``root/<folder>`` or ``root`` itself."""
        root = Path(self.root).expanduser()
        for candidate in (root / self.folder, root):
            if (candidate / self.train_files[0]).is_file():
                return candidate
        return root / self.folder

    def check(self) -> None:
        """Raise DatasetError unless every batch file is present and is a CIFAR batch.

        Each file is decoded once per process (the allowlist unpickler: nothing in it can
        run) and remembered by size and modification time, so a sweep's later design points
        only stat the files, and a garbage file is refused before any run is recorded."""
        self._check_present()
        folder = self.directory()
        for name in (*self.train_files, *self.test_files):
            _check_batch(folder / name, self.label_key)

    def _check_present(self) -> None:
        folder = self.directory()
        missing = [f for f in (*self.train_files, *self.test_files) if not (folder / f).is_file()]
        if missing:
            where = folder.resolve()
            problem = f"lacks {', '.join(missing)}" if where.is_dir() else "does not exist"
            raise DatasetError(
                f"{self.name} not found: {where} {problem} "
                f"(dataset.root = {Path(self.root).expanduser().resolve()}). Expected the "
                f"python version of the dataset unpacked under root:\n{self.layout()}\n"
                "Nothing is downloaded: fetch the archive yourself and unpack it there, "
                "or set dataset.root=<folder>."
            )

    def load(self) -> DataSplits:

        from dse.api.data import random_crop_flip

        self._check_present()
        folder = self.directory()
        x_train, y_train = _read(folder, self.train_files, self.label_key)
        x_test, y_test = _read(folder, self.test_files, self.label_key)
        if self.limit is not None:
            x_train, y_train = x_train[: self.limit], y_train[: self.limit]
        return with_validation(
            x_train,
            y_train,
            x_test,
            y_test,
            val_fraction=self.val_fraction,
            split_seed=self.split_seed,
            num_classes=self.num_classes,
            input_shape=(3, 32, 32),
            augment=random_crop_flip(4) if self.augment else None,
        )


class _BatchUnpickler(pickle.Unpickler):
    """Admits only what the published batches hold (dicts, lists, strings, numpy arrays):
    any other global in the stream is an error, so a planted file cannot run code."""

    ALLOWED = frozenset(
        {
            ("numpy.core.multiarray", "_reconstruct"),  # numpy < 2 array pickles
            ("numpy._core.multiarray", "_reconstruct"),  # numpy >= 2
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
            ("_codecs", "encode"),  # how protocol 2 writes Python 3 bytes
        }
    )

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing {module}.{name}: batches hold only arrays")


# Batch files this process found valid, by (path, size, modification time).
_checked: set[tuple[str, int, int]] = set()


def _check_batch(path: Path, label_key: str) -> None:
    """Decode one batch file (DatasetError if it is not one), once per version of it."""
    try:
        stat = path.stat()
    except OSError as err:
        raise DatasetError(f"{path}: cannot be read ({err.strerror})") from None
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _checked:
        _read_batch(path, label_key)
        _checked.add(key)


def _read_batch(path: Path, label_key: str) -> tuple[Any, Any]:
    """uint8 images (N, 3072) and int64 labels (N,) of one pickle batch."""
    import numpy as np

    try:
        with open(path, "rb") as f:
            batch = _BatchUnpickler(f, encoding="bytes").load()
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        IndexError,
        KeyError,
        OverflowError,
        MemoryError,
        UnicodeDecodeError,
    ) as err:  # what a garbage stream makes the unpickler raise
        raise DatasetError(
            f"{path}: not a CIFAR python batch ({type(err).__name__}: {err}); replace it "
            "with the file from the published archive"
        ) from None
    except OSError as err:
        raise DatasetError(f"{path}: cannot be read ({err.strerror})") from None
    if not isinstance(batch, dict):
        raise DatasetError(f"{path}: not a CIFAR python batch (no dict inside)")
    batch = {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}
    for key in ("data", label_key):
        if key not in batch:
            raise DatasetError(
                f"{path}: no '{key}' entry (found {sorted(map(str, batch))}); "
                "is this the python version of the dataset?"
            )
    try:
        data = np.asarray(batch["data"], dtype=np.uint8)
        labels = np.asarray(batch[label_key], dtype=np.int64)
    except (TypeError, ValueError) as err:
        raise DatasetError(f"{path}: data or labels are not numbers ({err})") from None
    if data.ndim != 2 or data.shape[1] != 3072 or labels.ndim != 1 or len(labels) != len(data):
        raise DatasetError(
            f"{path}: expected data of shape (N, 3072) and N labels, got "
            f"{data.shape} and {labels.shape}"
        )
    return data, labels


def _read(folder: Path, files: tuple[str, ...], label_key: str) -> tuple[Any, Any]:
    """uint8 images (N, 3, 32, 32) and int64 labels (N,) from pickle batches."""
    import numpy as np

    xs, ys = [], []
    for name in files:
        data, labels = _read_batch(folder / name, label_key)
        xs.append(data.reshape(-1, 3, 32, 32))
        ys.append(labels)
    return np.ascontiguousarray(np.concatenate(xs)), np.concatenate(ys)


class Cifar10(_Cifar):
    """CIFAR-10 (32x32 RGB, 10 classes) from the python pickle batches under ``root``."""

    folder = "cifar-10-batches-py"
    train_files = tuple(f"data_batch_{i}" for i in range(1, 6))
    test_files = ("test_batch",)
    label_key = "labels"
    num_classes = 10
    name = "CIFAR-10"


class Cifar100(_Cifar):
    """CIFAR-100 (32x32 RGB, 100 fine classes) from the python pickle files under ``root``."""

    folder = "cifar-100-python"
    train_files = ("train",)
    test_files = ("test",)
    label_key = "fine_labels"
    num_classes = 100
    name = "CIFAR-100"
