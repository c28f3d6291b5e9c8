"""Tiny-ImageNet-200, read from the published folder layout (never downloaded).

Layout (http://cs231n.stanford.edu/tiny-imagenet-200.zip, unpacked): ``wnids.txt`` lists
the 200 class ids; ``train/<wnid>/images/*.JPEG`` hold 500 64x64 images per class;
``val/images/*.JPEG`` hold 10,000 images labelled by ``val/val_annotations.txt`` (tab
separated: file, wnid, box). The official test set has no labels, so the official
validation set serves as our test split and our validation split is carved from train.
Class index = position of the wnid in sorted order (as torchvision's ImageFolder does).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dse.api.errors import DatasetError, require
from dse.api.interfaces import Dataset, DataSplits
from dse.builtin.datasets._splits import check_fractions, with_validation

FOLDER = "tiny-imagenet-200"
SIZE = 64  # every Tiny-ImageNet image is 64x64 RGB (the dataset's definition)
NUM_CLASSES = 200
LAYOUT = f"""  {FOLDER}/
    wnids.txt                  (200 class ids, one per line)
    train/<wnid>/images/*.JPEG (for every wnid)
    val/images/*.JPEG
    val/val_annotations.txt    (file<TAB>wnid<TAB>box)"""


class TinyImageNet(Dataset):
    """Tiny-ImageNet-200 (64x64 RGB, 200 classes) from its standard layout under ``root``."""

    def __init__(
        self,
        root: str = "data",
        val_fraction: float = 0.1,
        split_seed: int = 0,
        augment: bool = True,
        limit: int | None = None,
    ) -> None:
        check_fractions(val_fraction)
        require(limit is None or limit >= 1, "dataset.limit", "must be null or >= 1", limit)
        self.root = str(root)
        self.val_fraction = float(val_fraction)
        self.split_seed = int(split_seed)
        self.augment = bool(augment)
        self.limit = None if limit is None else int(limit)

    def directory(self) -> Path:
        """``root/tiny-imagenet-200`` or ``root`` itself when it holds wnids.txt."""
        root = Path(self.root).expanduser()
        if not (root / FOLDER / "wnids.txt").is_file() and (root / "wnids.txt").is_file():
            return root
        return root / FOLDER

    def check(self) -> None:
        """Raise DatasetError unless the layout is complete. Reads wnids.txt only."""
        folder = self.directory()
        missing: list[str] = []
        if not folder.is_dir():
            missing.append(f"{folder} does not exist")
        else:
            for rel in ("wnids.txt", "val/images", "val/val_annotations.txt"):
                if not (folder / rel).exists():
                    missing.append(rel)
            if (folder / "wnids.txt").is_file():
                wnids = _wnids(folder)
                absent = [w for w in wnids if not (folder / "train" / w / "images").is_dir()]
                if absent:
                    shown = ", ".join(f"train/{w}/images" for w in absent[:3])
                    more = f" and {len(absent) - 3} more" if len(absent) > 3 else ""
                    missing.append(shown + more)
                if not wnids:
                    missing.append("class ids in wnids.txt (it is empty)")
        if missing:
            raise DatasetError(
                f"Tiny-ImageNet not found under {folder.resolve()}: missing "
                f"{'; '.join(missing)} (dataset.root = {Path(self.root).expanduser().resolve()})."
                f" Expected the standard layout under root:\n{LAYOUT}\n"
                "Nothing is downloaded: fetch tiny-imagenet-200.zip yourself and unpack it "
                "there, or set dataset.root=<folder>."
            )

    def load(self) -> DataSplits:

        from dse.api.data import random_crop_flip

        self.check()
        folder = self.directory()
        wnids = _wnids(folder)
        index = {w: i for i, w in enumerate(wnids)}

        per_class = [sorted((folder / "train" / w / "images").glob("*.JPEG")) for w in wnids]
        # Class-interleaved order, so the first `limit` images cover every class evenly.
        longest = max(len(files) for files in per_class)
        train_items = [
            (files[j], c)
            for j in range(longest)
            for c, files in enumerate(per_class)
            if j < len(files)
        ]
        if self.limit is not None:
            train_items = train_items[: self.limit]

        test_items = []
        for line in (folder / "val" / "val_annotations.txt").read_text().splitlines():
            if not line.strip():
                continue
            name, wnid = line.split("\t")[:2]
            if wnid not in index:
                raise DatasetError(f"val/val_annotations.txt names {wnid}, not in wnids.txt")
            test_items.append((folder / "val" / "images" / name, index[wnid]))

        x_train, y_train = _read_images(train_items, "Tiny-ImageNet train")
        x_test, y_test = _read_images(test_items, "Tiny-ImageNet test (official val)")
        return with_validation(
            x_train,
            y_train,
            x_test,
            y_test,
            val_fraction=self.val_fraction,
            split_seed=self.split_seed,
            num_classes=len(wnids),
            input_shape=(3, SIZE, SIZE),
            augment=random_crop_flip(4) if self.augment else None,
        )


def _wnids(folder: Path) -> list[str]:
    return sorted({w.strip() for w in (folder / "wnids.txt").read_text().split() if w.strip()})


def _read_images(items: list[tuple[Path, int]], desc: str) -> tuple[Any, Any]:
    """uint8 (N, 3, 64, 64) images and int64 labels, read with PIL in a few threads."""
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np
    from PIL import Image
    from tqdm import tqdm

    def read(path: Path) -> Any:
        if not path.is_file():
            raise DatasetError(f"missing image {path}")
        try:
            with Image.open(path) as img:
                arr = np.asarray(img.convert("RGB"))  # some Tiny-ImageNet images are greyscale
        except (OSError, ValueError, Image.DecompressionBombError) as err:  # not an image
            raise DatasetError(f"{path}: not a readable image ({err})") from None
        if arr.shape != (SIZE, SIZE, 3):
            raise DatasetError(f"{path}: expected a {SIZE}x{SIZE} image, got {arr.shape[:2]}")
        return arr

    x = np.empty((len(items), SIZE, SIZE, 3), dtype=np.uint8)
    # PIL releases the GIL while decoding, so threads overlap file reads and decodes.
    with ThreadPoolExecutor(max_workers=4) as pool:
        images = pool.map(read, (p for p, _ in items))
        for i, arr in enumerate(tqdm(images, total=len(items), desc=desc, unit="img")):
            x[i] = arr
    y = np.fromiter((c for _, c in items), dtype=np.int64, count=len(items))
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2)), y
