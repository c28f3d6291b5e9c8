"""Hypervolume a sampler reaches with a quarter of the evaluations an exhaustive search needs.

The space: hardware keys of the TTFS processor on a fixed workload (VGG-16 at 32x32,
CIFAR-sized, assumed spike rate as in bench/hardware_throughput.py), so one evaluation
costs well under a millisecond and the exact Pareto front is known by evaluating the
whole grid:

    num_pes = 2^k, k in 2..8            (4 .. 256)
    clock_mhz = 100 x 2^k, k in 0..3    (100 .. 800)
    weight_sram_kb = 2^k, k in 5..9     (32 .. 512)
    weight bits in 3..6                 (log weights; changes the workload's storage)

560 points; objectives: minimise energy per inference and chip area (the trade-off a
designer prices: bigger SRAM and more PEs cost area, streaming weights from DRAM costs
energy). Each parameter is an ordinal integer, as ``range(...)`` in the sweeper's syntax
would give it. Budget: 25 % of the grid (140 trials). The hypervolume is taken against one
reference point for all: the exact front's nadir pushed out by 10 % of the front's range
(``dse.front.pareto.default_reference`` of the front); reported as a share of the exhaustive
front's hypervolume, next to the share of the exact front's points found. Median over 5 seeds. Optuna ask/tell directly: this
measures the samplers, not Hydra.

Run: .venv/bin/python bench/sampler_hypervolume.py [--seeds 5] [--budget 0.25]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from collections.abc import Callable

import numpy as np
import optuna
from optuna.distributions import IntDistribution

from dse.builtin.hardware.ttfs_processor import TTFSProcessor
from dse.cli.estimate import DEFAULT_SPIKE_RATE, assumed_activity, model_workload
from dse.front.pareto import default_reference, hypervolume, pareto_mask

DIRECTIONS = ["minimize", "minimize"]  # energy_uj, area_mm2
SPACE = {
    "log2_num_pes": IntDistribution(2, 8),
    "log2_clock_100mhz": IntDistribution(0, 3),
    "log2_weight_sram_kb": IntDistribution(5, 9),
    "weight_bits": IntDistribution(3, 6),
}


def make_objective() -> Callable[[tuple[int, ...]], tuple[float, float]]:
    workloads = {
        bits: assumed_activity(
            # VGG-16 on 32x32x3, 10 classes, log weights, T = 8, 16-bit accumulators
            model_workload("vgg16", 32, 3, 10, bits, "log", "ttfs_log", 8, 16),
            DEFAULT_SPIKE_RATE,
        )
        for bits in range(3, 7)
    }
    cache: dict[tuple[int, ...], tuple[float, float]] = {}

    def evaluate(point: tuple[int, ...]) -> tuple[float, float]:
        if point not in cache:
            pes, clock, sram, bits = point
            report = TTFSProcessor(
                num_pes=2**pes, clock_mhz=100.0 * 2**clock, weight_sram_kb=float(2**sram)
            ).estimate(workloads[bits])
            cache[point] = (report.energy_uj, report.area_mm2)
        return cache[point]

    return evaluate


def run_sampler(
    sampler: optuna.samplers.BaseSampler, evaluate: Callable, budget: int
) -> np.ndarray:
    study = optuna.create_study(directions=DIRECTIONS, sampler=sampler)
    values = []
    for _ in range(budget):
        trial = study.ask(SPACE)
        point = tuple(trial.params[k] for k in SPACE)
        v = evaluate(point)
        study.tell(trial, v)
        values.append(v)
    return np.array(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=float, default=0.25, help="share of the grid")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    evaluate = make_objective()
    grid = list(itertools.product(*(range(d.low, d.high + 1) for d in SPACE.values())))
    start = time.perf_counter()
    all_values = np.array([evaluate(p) for p in grid])
    exhaustive_s = time.perf_counter() - start
    front = pareto_mask(all_values, DIRECTIONS)
    # Reference: the exact front's nadir pushed out by 10 % of the front's range
    # (dse.front.pareto.default_reference of the front), so only near-optimal points count.
    reference = default_reference(all_values[front], DIRECTIONS)
    optimum = hypervolume(all_values[front], DIRECTIONS, reference)
    budget = round(args.budget * len(grid))
    print(
        f"grid: {len(grid)} points, exact front {int(front.sum())} points, evaluated in "
        f"{exhaustive_s:.2f} s; reference (energy_uj, area_mm2) = "
        f"({reference[0]:.4g}, {reference[1]:.4g}); budget {budget} trials; {args.seeds} seeds"
    )
    samplers: dict[str, Callable[[int], optuna.samplers.BaseSampler]] = {
        # the sweeper's default (hydra/sweeper/sampler=tpe): multivariate TPE
        "TPE (sweeper default)": lambda s: optuna.samplers.TPESampler(
            seed=s, multivariate=True, n_startup_trials=10
        ),
        "TPE (Optuna defaults)": lambda s: optuna.samplers.TPESampler(seed=s),
        "random": lambda s: optuna.samplers.RandomSampler(seed=s),
    }
    print(
        f"{'sampler':<24}{'median HV / optimum':>20}{'min':>8}{'max':>8}"
        f"{'front found':>13}{'s per seed':>12}"
    )
    for name, make in samplers.items():
        ratios, seconds, hits = [], [], []
        for seed in range(args.seeds):
            t = time.perf_counter()
            found = run_sampler(make(seed), evaluate, budget)
            seconds.append(time.perf_counter() - t)
            ratios.append(hypervolume(found, DIRECTIONS, reference) / optimum)
            exact = {tuple(v) for v in all_values[front]}
            hits.append(len(exact & {tuple(v) for v in found}) / len(exact))
        print(
            f"{name:<24}{statistics.median(ratios):>19.2%}{min(ratios):>8.1%}"
            f"{max(ratios):>8.1%}{statistics.median(hits):>13.0%}{statistics.median(seconds):>12.1f}"
        )
    print(f"{'exhaustive':<24}{1:>19.2%}{'':>16}{1:>13.0%}{exhaustive_s:>12.2f}")


if __name__ == "__main__":
    main()
