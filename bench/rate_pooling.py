"""Rate coding and pooling: the max-pool gating error, measured per layer, against average pooling.

A rate-coded max pool passes, at each step, the spike of the window's input neuron with the
highest count so far (spike-count gating, Rueckauer et al. 2017). The gate can switch
between neurons, so a window's output count can exceed its largest input count, never fall
below it: the error is one-sided and grows layer by layer. This script trains one CAT
network per pooling on a Fashion-MNIST subset (rate coding, T = 32, log 5-bit weights),
converts and simulates it, and prints per max pool the share of windows whose output count
is above / equal to / below the window's largest input count, and each network's
conversion loss.

    python bench/rate_pooling.py [--limit 20000] [--epochs 2] [--samples 1000]
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from omegaconf import OmegaConf

from dse.api.architecture import MaxPool2d
from dse.api.data import to_float
from dse.builtin.codings import RateCoding
from dse.builtin.datasets.idx import FashionMNIST
from dse.builtin.quantizers import LogQuantizer
from dse.builtin.training import ConversionAwareTraining
from dse.registry.discovery import CONF_DIR


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=20_000, help="training images used")
    parser.add_argument("--epochs", type=int, default=2, help="CAT epochs (from scratch)")
    parser.add_argument("--samples", type=int, default=1000, help="test images simulated")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = FashionMNIST(limit=args.limit, augment=False).load()
    test = type(data.test)(data.test.x[: args.samples], data.test.y[: args.samples])
    coding, quantizer = RateCoding(time_window=32), LogQuantizer(5)
    print(f"Fashion-MNIST, {args.limit} training images, CAT {args.epochs} epochs, rate T = 32,")
    print(f"log 5-bit, fashion_vgg; {args.samples} test images; {args.threads} torch thread(s)")
    for pool in ("max", "avg"):
        wall, cpu = time.perf_counter(), time.process_time()
        model = OmegaConf.load(CONF_DIR / "model" / "fashion_vgg.yaml")
        model.pool = pool
        arch = instantiate(model).build(data.input_shape, data.num_classes)
        ann = ConversionAwareTraining(epochs=args.epochs, batch_size=128, lr=2e-3).fit(
            arch, data, quantizer, coding, seed=0
        )
        snn = coding.convert(ann, quantizer, data.train)
        out = coding.run(snn, to_float(test.x))  # run() takes pixels in [0, 1]
        with torch.no_grad():
            ann_acc = 100.0 * float(
                (ann.module(to_float(test.x)).argmax(1) == test.y).float().mean()
            )
        snn_acc = 100.0 * float((out["potential"].argmax(1) == test.y).float().mean())
        print(
            f"\npool={pool}: ANN {ann_acc:.2f} %, SNN {snn_acc:.2f} %, "
            f"conversion loss {ann_acc - snn_acc:+.2f} points "
            f"({time.perf_counter() - wall:.0f} s wall, {time.process_time() - cpu:.0f} s CPU)"
        )
        if pool != "max":
            continue
        print("  max pool   windows: output count > largest input   = largest   < largest")
        counts = out["counts"]
        previous = None
        for i, layer in enumerate(arch.layers):
            if isinstance(layer, MaxPool2d) and previous is not None:
                largest = F.max_pool2d(previous, layer.kernel, layer.stride)
                pooled = counts[i]
                above = float((pooled > largest).float().mean()) * 100
                equal = float((pooled == largest).float().mean()) * 100
                below = float((pooled < largest).float().mean()) * 100
                print(f"  layer {i:2d}               {above:14.1f} % {equal:9.1f} % {below:9.1f} %")
            if counts[i] is not None:
                previous = counts[i]


if __name__ == "__main__":
    main()
