"""Hardware configurations priced per second on the VGG-16 workload (target: <= 1 ms each).

Each configuration constructs a processor (validation, CACTI table look-ups) and prices the
CIFAR-sized VGG-16 workload at an assumed spike rate: what a sweep over hardware keys
costs once the workload is cached. Run: .venv/bin/python bench/hardware_throughput.py
"""

from __future__ import annotations

import itertools
import time

from dse.api.architecture import static_workload
from dse.builtin.hardware import ANNAccelerator, RateProcessor, TTFSProcessor, load_technology
from dse.builtin.models.vgg16 import VGG16
from dse.cli.estimate import DEFAULT_SPIKE_RATE, assumed_activity


def main() -> None:
    arch = VGG16().build((3, 32, 32), 10)
    static = static_workload(
        arch,
        weight_bits=5,
        weight_format="log",
        coding="ttfs_log",
        time_window=8,
        accumulator_bits=16,
    )
    workload = assumed_activity(static, DEFAULT_SPIKE_RATE)
    techs = [load_technology(n) for n in ("28nm", "45nm")]
    grid = list(
        itertools.product((16, 64, 256, 1024), (100.0, 400.0), (64.0, 1024.0), (4, 16), techs)
    )
    print(f"VGG-16 @32x32: {len(workload.layers)} layers, {len(grid)} configurations per model")
    for cls in (TTFSProcessor, RateProcessor, ANNAccelerator):
        start = time.perf_counter()
        repeats = 20
        for _ in range(repeats):
            for pes, clock, kb, cols, tech in grid:
                cls(
                    num_pes=pes,
                    clock_mhz=clock,
                    weight_sram_kb=kb,
                    position_parallel=cols,
                    technology=tech,
                ).estimate(workload)
        seconds = time.perf_counter() - start
        n = repeats * len(grid)
        print(
            f"{cls.__name__:<15} {n / seconds:10.0f} configurations/s  "
            f"{seconds / n * 1e3:.3f} ms each"
        )


if __name__ == "__main__":
    main()
