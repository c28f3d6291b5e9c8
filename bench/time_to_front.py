"""Hypervolume reached against CPU time: today's search, the multi-fidelity search, random.

Three real sweeps of `experiment=pareto_fashion` (fashion_cnn, TTFS-log, the TTFS
processor; constraints snn_accuracy >= 80 and area_mm2 <= 1.38), each with its own stage
cache so each pays for everything it trains, pretraining included:

  (a) today's search: TPE, every trial at full fidelity, no pre-screening
  (b) the new search: TPE, pre-screening, multi-fidelity (first epoch, best third promoted)
  (c) random search: every trial at full fidelity, no pre-screening

On a reduced Fashion-MNIST setting that runs within an hour on a 2-core machine (the
defaults): the first ``--limit`` training images (stratified 90/10 into train/val), the
first ``--test-limit`` test images, pretraining ``--pretrain-epochs``, CAT ``--epochs``
(full fidelity; low fidelity is its first epoch), ``--trials`` trials each, 1 torch
thread, seed 0.

After each design run, in the order runs ended, the CPU time spent so far (the runs'
``stage_cpu_seconds``, every thread of the sweep's process) and the hypervolume of the
feasible full-fidelity points so far, all three against one reference point (accuracy
at the 80 % constraint, 1.1x the largest feasible energy of any sweep). Printed side by
side; a plot is written to ``--out``.

Run: .venv/bin/python bench/time_to_front.py [--trials 12] [--limit 6000] [--out DIR]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from dse.front.pareto import hypervolume

REPO = Path(__file__).resolve().parents[1]
DIRECTIONS = ["maximize", "minimize"]
SEARCHES = {
    "a: today (TPE, full fidelity)": [
        "hydra.sweeper.fidelity.key=null",
        "search.prescreen=false",
    ],
    "b: new (TPE, pre-screen, multi-fidelity)": [],
    "c: random (full fidelity)": [
        "hydra/sweeper/sampler=random",
        "hydra.sweeper.fidelity.key=null",
        "search.prescreen=false",
    ],
}


def sweep(label: str, extra: list[str], out: Path, args: argparse.Namespace) -> float:
    """Run one search; returns the CPU seconds of its process tree."""
    cmd = [
        sys.executable,
        "-m",
        "dse.cli",
        "-m",
        "experiment=pareto_fashion",
        f"paths.outputs={out}",
        "threads=1",
        f"dataset.limit={args.limit}",
        f"dataset.test_limit={args.test_limit}",
        f"training.pretrain.epochs={args.pretrain_epochs}",
        f"training.epochs={args.epochs}",
        f"hydra.sweeper.n_trials={args.trials}",
        "seed=0",
        *extra,
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{label}: the sweep failed\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(f"{label}: {time.perf_counter() - started:.0f} s wall, {cpu:.0f} s CPU", flush=True)
    return cpu


def trajectory(out: Path) -> list[tuple[float, float, float, bool]]:
    """(cumulative CPU s, accuracy, energy, counts) per design run, in the order they
    ended; counts: feasible and full fidelity."""
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{out}/mlflow.db")
    exp = client.get_experiment_by_name("snn-dse").experiment_id
    runs = client.search_runs([exp], max_results=5000)
    runs = [r for r in runs if "mlflow.parentRunId" in r.data.tags]  # design runs only
    runs.sort(key=lambda r: r.info.end_time or 0)
    spent, rows = 0.0, []
    for r in runs:
        m = r.data.metrics
        spent += m.get("stage_cpu_seconds", 0.0)
        full = r.data.tags.get("dse.fidelity") == "full"
        feasible = r.data.tags.get("dse.feasible") == "true"
        rows.append(
            (spent, m.get("snn_accuracy", np.nan), m.get("energy_uj", np.nan), full and feasible)
        )
    return rows


def hv_curve(rows: list, reference: list[float]) -> list[tuple[float, float]]:
    points, curve = [], []
    for cpu, acc, energy, counts in rows:
        if counts:
            points.append([acc, energy])
        hv = hypervolume(np.array(points), DIRECTIONS, reference) if points else 0.0
        curve.append((cpu, hv))
    return curve


def reached(curve: list[tuple[float, float]], target: float) -> float | None:
    return next((cpu for cpu, hv in curve if hv >= target * (1 - 1e-9)), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--limit", type=int, default=6000)
    parser.add_argument("--test-limit", type=int, default=1000)
    parser.add_argument("--pretrain-epochs", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "outputs" / "bench_time_to_front")
    parser.add_argument("--reuse", action="store_true", help="re-read finished sweeps in --out")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    rows, cpu = {}, {}
    for i, (label, extra) in enumerate(SEARCHES.items()):
        out = args.out / f"search_{i}"
        if not (args.reuse and (out / "mlflow.db").exists()):
            cpu[label] = sweep(label, extra, out, args)
        rows[label] = trajectory(out)
    feasible = [e for r in rows.values() for (_, _, e, ok) in r if ok]
    reference = [80.0, 1.1 * max(feasible)] if feasible else [80.0, 1.0]
    curves = {label: hv_curve(r, reference) for label, r in rows.items()}

    a = next(iter(curves))
    target = curves[a][-1][1] if curves[a] else 0.0
    print(f"\nreference point: accuracy {reference[0]} %, energy {reference[1]:.4g} uJ")
    print(f"{'search':44} {'design runs':>11} {'CPU s':>8} {'final HV':>9} {'CPU s to HV(a)':>15}")
    for label, curve in curves.items():
        total = curve[-1][0] if curve else 0.0
        hit = reached(curve, target)
        print(
            f"{label:44} {len(curve):>11} {total:>8.0f} {curve[-1][1] if curve else 0:>9.2f} "
            f"{'never' if hit is None else f'{hit:.0f}':>15}"
        )
    hit_b = reached(list(curves.values())[1], target)
    if hit_b is not None and curves[a]:
        print(
            f"\n(b) reaches (a)'s final hypervolume in {hit_b / curves[a][-1][0]:.2f}x (a)'s CPU time"
        )
    for label, seconds in cpu.items():
        print(f"process CPU (sweep overhead included) {label}: {seconds:.0f} s")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for label, curve in curves.items():
        xs = [0.0] + [c / 60 for c, _ in curve]
        ys = [0.0] + [h for _, h in curve]
        ax.step(xs, ys, where="post", label=label)
    ax.set_xlabel("CPU minutes (design points' stages)")
    ax.set_ylabel("hypervolume (accuracy %, energy uJ)")
    ax.set_title("Fashion-MNIST (reduced): hypervolume against CPU time")
    ax.legend()
    fig.tight_layout()
    path = args.out / "time_to_front.png"
    fig.savefig(path, dpi=120)
    print(f"plot: {path}")


if __name__ == "__main__":
    main()
