"""Images per second: float ANN forward vs ttfs_log and rate (T = 8) spike simulation.

Same network (small_cnn on digits, CAT-trained with 5-bit log weights for the ttfs_log
coding, a few epochs: weights only need to be realistic) and the same inputs, measured
side by side in one process. Run: .venv/bin/python bench/simulation_throughput.py
"""

from __future__ import annotations

import time

import torch

from dse.api.interfaces import Split
from dse.api.network import Network
from dse.builtin.codings import RateCoding, TTFSLogCoding
from dse.builtin.datasets.digits import Digits
from dse.builtin.models.small_cnn import SmallCNN
from dse.builtin.quantizers import LogQuantizer
from dse.builtin.training import ConversionAwareTraining

REPEATS = 5  # best of 5 runs: robust to other processes sharing the 2 cores


def best_time(fn) -> float:  # noqa: ANN001
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    data = Digits().load()
    arch = SmallCNN().build(data.input_shape, data.num_classes)
    quantizer, ttfs, rate = LogQuantizer(5), TTFSLogCoding(time_window=8), RateCoding(time_window=8)
    ann = ConversionAwareTraining(epochs=3).fit(arch, data, quantizer, ttfs, seed=0)
    # the float ANN: the same architecture and (float32) weights with ReLU
    relu = Network(arch, torch.nn.ReLU)
    relu.load_state_dict({k: v.float() for k, v in ann.module.state_dict().items()})
    relu.eval()
    # whole digits set, repeated to 4x for a steadier measurement
    x = torch.cat([data.train.x, data.val.x, data.test.x] * 4)
    split = Split(x, torch.zeros(len(x), dtype=torch.int64))
    snn_ttfs = ttfs.convert(ann, quantizer, data.train)
    snn_rate = rate.convert(ann, quantizer, data.train)

    def ann_forward() -> None:
        with torch.no_grad():
            for start in range(0, len(x), 1024):
                relu(x[start : start + 1024])

    # (name, seconds, target as a fraction of the float forward's images/s)
    rows = [
        ("float ANN forward (float32)", best_time(ann_forward), None),
        ("ttfs_log simulation, T=8", best_time(lambda: ttfs.simulate(snn_ttfs, split)), 0.5),
        ("rate simulation, T=8", best_time(lambda: rate.simulate(snn_rate, split)), 1 / 8),
    ]
    base = len(x) / rows[0][1]
    print(f"{len(x)} images (8x8 digits), small_cnn, torch threads = {torch.get_num_threads()}")
    for name, seconds, target in rows:
        ips = len(x) / seconds
        goal = f", target >= {target:.3g}x" if target is not None else ""
        print(f"  {name:<30} {ips:>10.0f} images/s  ({ips / base:.3f}x the float forward{goal})")


if __name__ == "__main__":
    main()
