"""MNIST and Fashion-MNIST, read from the four standard IDX files (never downloaded).

The IDX format (LeCun et al., http://yann.lecun.com/exdb/mnist/, "file formats"): a
big-endian header of two zero bytes, a type code (0x08: unsigned byte), the number of
dimensions d, then d big-endian uint32 sizes, then the values in row-major order.
Image files are d = 3 (N, 28, 28), label files d = 1 (N,). Files may be gzipped (as
published and as Debian ships them) or plain; a file that is not what it claims (wrong
magic, type or dimensions, a truncated or overlong body, labels out of range) is one
``DatasetError`` naming the file. Only bytes are read: nothing in a dataset folder can
execute code.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from dse.api.errors import DatasetError, require
from dse.api.interfaces import Dataset, DataSplits
from dse.builtin.datasets._splits import check_fractions, with_validation

if TYPE_CHECKING:
    import numpy as np

_UNSIGNED_BYTE = 0x08  # the IDX type code of every MNIST-family file
_SIDE = 28
_CLASSES = 10

# (stem, expected dimensions) of the four files; each is read as <stem>.gz or <stem>.
TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"
FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)


# The four files' (path, size, modification time) this process found valid.
_checked: set[tuple[tuple[str, int, int], ...]] = set()


def read_idx(path: str | Path) -> np.ndarray:
    """The uint8 array stored in one IDX file (gzipped or plain), shape from its header."""
    import numpy as np

    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":  # gzip magic (RFC 1952)
            raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as err:
        raise DatasetError(f"{path}: cannot read it ({err})") from None
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] != _UNSIGNED_BYTE:
        raise DatasetError(
            f"{path}: not an IDX file of unsigned bytes (header {raw[:4].hex() or 'empty'}, "
            "expected 0000 08 then the number of dimensions)"
        )
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise DatasetError(f"{path}: IDX header cut short ({len(raw)} bytes, {ndim} dimensions)")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    expected = header + int(np.prod(shape, dtype=np.int64))
    if len(raw) != expected:
        problem = "truncated" if len(raw) < expected else "longer than its header says"
        raise DatasetError(
            f"{path}: body {problem}: {len(raw) - header} bytes for shape {shape} "
            f"({expected - header} expected)"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file, gzipped when the name ends in ``.gz``."""
    import numpy as np

    array = np.ascontiguousarray(array, dtype=np.uint8)
    data = bytes([0, 0, _UNSIGNED_BYTE, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data += array.tobytes()
    path = Path(path)
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)


class _MnistFamily(Dataset):
    """28x28 grayscale, 10 classes, 60,000 train / 10,000 test in four IDX files."""

    name: ClassVar[str]
    default_root: ClassVar[str]
    how_to_get: ClassVar[str]
    flips: ClassVar[bool]  # horizontal flips keep the class (clothes: yes; digits: no)

    def __init__(
        self,
        root: str | None = None,
        val_fraction: float = 0.1,
        split_seed: int = 0,
        augment: bool = True,
        limit: int | None = None,
        test_limit: int | None = None,
    ) -> None:
        check_fractions(val_fraction)
        require(
            limit is None or limit >= _CLASSES,
            "dataset.limit",
            f"must be null or >= {_CLASSES} (one image per class)",
            limit,
        )
        self.root = str(root if root is not None else self.default_root)
        self.val_fraction = float(val_fraction)
        self.split_seed = int(split_seed)
        self.augment = bool(augment)
        require(
            test_limit is None or test_limit >= 1,
            "dataset.test_limit",
            "must be null or >= 1",
            test_limit,
        )
        self.limit = None if limit is None else int(limit)
        self.test_limit = None if test_limit is None else int(test_limit)

    def files(self) -> dict[str, Path]:
        """Each of the four files: ``<stem>.gz`` when present, else the plain ``<stem>``."""
        folder = Path(self.root).expanduser()
        found = {}
        for stem in FILES:
            gz = folder / f"{stem}.gz"
            found[stem] = gz if gz.is_file() else folder / stem
        return found

    def check(self) -> None:
        """Raise DatasetError unless all four files are present and hold what they should.

        The files are parsed once per process and remembered by size and modification time,
        so a garbage file is refused before any run is recorded and a sweep's later design
        points only stat them."""
        self._check_present()
        paths = self.files()
        key = tuple(
            (str(path.resolve()), path.stat().st_size, path.stat().st_mtime_ns)
            for path in paths.values()
        )
        if key not in _checked:
            self._pair(paths[TRAIN_IMAGES], paths[TRAIN_LABELS])
            self._pair(paths[TEST_IMAGES], paths[TEST_LABELS])
            _checked.add(key)

    def _check_present(self) -> None:
        missing = [stem for stem, path in self.files().items() if not path.is_file()]
        if missing:
            folder = Path(self.root).expanduser().resolve()
            problem = f"lacks {', '.join(missing)}" if folder.is_dir() else "does not exist"
            expected = "\n".join(f"    {stem}.gz (or {stem})" for stem in FILES)
            raise DatasetError(
                f"{self.name} not found: {folder} {problem} (dataset.root). Expected the four "
                f"standard IDX files:\n{expected}\n{self.how_to_get}"
            )

    def load(self) -> DataSplits:
        from dse.api.data import random_crop_flip

        self._check_present()
        paths = self.files()
        x_train, y_train = self._pair(paths[TRAIN_IMAGES], paths[TRAIN_LABELS])
        x_test, y_test = self._pair(paths[TEST_IMAGES], paths[TEST_LABELS])
        if self.limit is not None:
            x_train, y_train = x_train[: self.limit], y_train[: self.limit]
        if self.test_limit is not None:  # the published split's first N (quick experiments)
            x_test, y_test = x_test[: self.test_limit], y_test[: self.test_limit]
        augment = None
        if self.augment:  # pad-2 crops (28x28 is small) and, where the class allows, flips
            augment = random_crop_flip(2, flip=self.flips)
        return with_validation(
            x_train,
            y_train,
            x_test,
            y_test,
            val_fraction=self.val_fraction,
            split_seed=self.split_seed,
            num_classes=_CLASSES,
            input_shape=(1, _SIDE, _SIDE),
            augment=augment,
        )

    @staticmethod
    def _pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
        """uint8 images (N, 1, 28, 28) and int64 labels (N,), checked against each other."""
        import numpy as np

        images, labels = read_idx(images_path), read_idx(labels_path)
        if images.ndim != 3 or images.shape[1:] != (_SIDE, _SIDE):
            raise DatasetError(
                f"{images_path}: expected images of shape (N, {_SIDE}, {_SIDE}), got {images.shape}"
            )
        if labels.ndim != 1:
            raise DatasetError(f"{labels_path}: expected labels of shape (N,), got {labels.shape}")
        if len(labels) != len(images):
            raise DatasetError(
                f"{labels_path}: {len(labels)} labels for {len(images)} images in {images_path}"
            )
        if len(labels) and int(labels.max()) >= _CLASSES:
            raise DatasetError(
                f"{labels_path}: label {int(labels.max())} out of range 0..{_CLASSES - 1}"
            )
        return images.reshape(-1, 1, _SIDE, _SIDE).copy(), labels.astype(np.int64)


class FashionMNIST(_MnistFamily):
    """Fashion-MNIST (Xiao et al. 2017): 28x28 clothing images, 10 classes, 60k/10k.

    Read from the Debian package ``dataset-fashion-mnist`` by default.
    """

    name = "Fashion-MNIST"
    default_root = "/usr/share/datasets/fashion-mnist"
    how_to_get = (
        "Install it with `sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or set "
        "dataset.root=<folder> holding the four files. Nothing is downloaded."
    )
    flips = True


class MNIST(_MnistFamily):
    """MNIST handwritten digits (LeCun et al. 1998): 28x28, 10 classes, 60k/10k.

    Read from ``dataset.root`` (no package ships it): the four IDX files, gzipped or not.
    """

    name = "MNIST"
    default_root = "data/mnist"
    how_to_get = (
        "Put the four files there yourself and set dataset.root=<folder>. Nothing is downloaded."
    )
    flips = False
