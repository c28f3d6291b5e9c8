"""Seconds per training epoch: standard float32 (ReLU) vs CAT (log 5-bit, ttfs_log T = 8).

The Fashion-MNIST model (conf/model/fashion_cnn.yaml) on the same training images, with
the project's own training methods, side by side in one process: one standard epoch,
then one CAT epoch fine-tuned from it, repeated; the best of each is reported with
their ratio (target: CAT <= 2x standard). Needs the Debian package
dataset-fashion-mnist. Run: .venv/bin/python bench/training_epoch.py [--limit N]
"""

from __future__ import annotations

import argparse
import time

import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from dse.builtin.codings import TTFSLogCoding
from dse.builtin.datasets.idx import FashionMNIST
from dse.builtin.quantizers import LogQuantizer
from dse.builtin.training import ConversionAwareTraining, StandardTraining
from dse.registry.discovery import CONF_DIR


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="training images (default: all)")
    parser.add_argument("--repeats", type=int, default=2, help="epochs of each kind (best kept)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    builder = instantiate(OmegaConf.load(CONF_DIR / "model" / "fashion_cnn.yaml"))

    data = FashionMNIST(limit=args.limit).load()
    arch = builder.build(data.input_shape, data.num_classes)
    quantizer, coding = LogQuantizer(5), TTFSLogCoding(time_window=8)
    training = dict(epochs=1, batch_size=128, lr=1e-3, device="cpu")
    print(
        f"{len(data.train)} training images, {arch.name}, {args.threads} torch threads, "
        f"batch {training['batch_size']}"
    )
    standard_s, cat_s = [], []
    for repeat in range(args.repeats):
        start = time.perf_counter()
        ann = StandardTraining(**training).fit(arch, data, quantizer, coding, seed=repeat)
        standard_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        ConversionAwareTraining(**training).fit(arch, data, quantizer, coding, repeat, init=ann)
        cat_s.append(time.perf_counter() - start)
        print(f"  repeat {repeat}: standard {standard_s[-1]:.1f} s, CAT {cat_s[-1]:.1f} s")
    best_std, best_cat = min(standard_s), min(cat_s)
    print(f"standard float32 epoch: {best_std:.1f} s")
    print(f"CAT epoch (log 5-bit, ttfs_log T=8): {best_cat:.1f} s")
    print(f"ratio CAT / standard: {best_cat / best_std:.2f}x (target <= 2x)")


if __name__ == "__main__":
    main()
