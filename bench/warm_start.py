"""How many CAT epochs a warm start saves: accuracy per epoch, cold against warm.

One design point (``--bits``, ``--time-window``) is trained by CAT epoch by epoch twice:
cold (from the pretrained ReLU network, as usual) and warm (``training.warm_start=nearest``,
from the fully trained CAT network of a neighbour: ``--from-bits``, same T). Each epoch's
network is a low-fidelity design point (``training.stop_epoch=k``), which resumes the
previous one from the stage cache, so the curve costs one training. Printed: validation
SNN accuracy after each epoch for both, and the epochs the warm start needs to reach the
cold start's final accuracy.

Run: .venv/bin/python bench/warm_start.py [--dataset digits] [--epochs 6] [key=value ...]
(extra Hydra overrides, e.g. experiment=fashion model=fashion_cnn dataset.limit=6000)
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from hydra import compose, initialize_config_dir

from dse.point.cache import StageCache
from dse.point.pipeline import DesignPoint, build_plugins
from dse.registry.discovery import CONF_DIR
from dse.registry.schema import register_schemas


def accuracy(overrides: list[str], cache: StageCache) -> float:
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=overrides)
    return DesignPoint(cfg, build_plugins(cfg), cache).run().metrics["snn_accuracy"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--bits", type=int, default=3)
    parser.add_argument("--from-bits", type=int, default=4)
    parser.add_argument("--time-window", type=int, default=3)
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for every design point")
    args = parser.parse_args()
    register_schemas()
    common = [
        *args.overrides,
        f"training.epochs={args.epochs}",
        "training.init=standard",
        f"coding.time_window={args.time_window}",
    ]
    started, cpu = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory() as folder:
        cache = StageCache(Path(folder))
        neighbour = accuracy([*common, f"quantizer.bits={args.from_bits}"], cache)
        curves: dict[str, list[float]] = {"cold": [], "warm": []}
        for start, extra in (("cold", []), ("warm", ["training.warm_start=nearest"])):
            for k in range(1, args.epochs + 1):
                point = [*common, *extra, f"quantizer.bits={args.bits}", f"training.stop_epoch={k}"]
                curves[start].append(accuracy(point, cache))
    print(
        f"{args.bits}-bit, T = {args.time_window}, {args.epochs} CAT epochs; warm from the "
        f"{args.from_bits}-bit network ({neighbour:.2f} % val); overrides: {' '.join(args.overrides)}"
    )
    print(f"{'epoch':>5} {'cold (val %)':>13} {'warm (val %)':>13}")
    for k, (c, w) in enumerate(zip(curves["cold"], curves["warm"], strict=True), start=1):
        print(f"{k:>5} {c:>13.2f} {w:>13.2f}")
    target = curves["cold"][-1]
    reach = next((k for k, w in enumerate(curves["warm"], start=1) if w >= target), None)
    saved = "never reached" if reach is None else f"epoch {reach} ({args.epochs - reach} saved)"
    print(f"warm start to the cold start's {args.epochs}-epoch accuracy ({target:.2f} %): {saved}")
    print(f"{time.perf_counter() - started:.0f} s wall, {time.process_time() - cpu:.0f} s CPU")


if __name__ == "__main__":
    main()
