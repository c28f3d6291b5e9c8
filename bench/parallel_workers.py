"""Two workers at one torch thread each against one worker at two threads, same study.

The same search (``experiment=pareto_digits`` with a longer CAT stage, so training
dominates; its own stage cache and stores per variant) made of ``--trials`` trials, run:

  (1) one process, ``threads=2``, all the trials;
  (2) two processes started together, ``threads=1`` each, half the trials each, on one
      Optuna journal and one MLflow store (docs/SCALING.md: they share the study, the
      front and the stage cache).

Printed: wall time, CPU time of the process tree and design runs recorded, for both,
measured one after the other in this run. (The two studies' hypervolumes are not
comparable: each fixes its reference from its own first trials.) Take the figures
with the machine to itself: a busy machine stretches wall time (CPU time far less).

Run: .venv/bin/python bench/parallel_workers.py [--trials 16] [--epochs 6]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def command(out: Path, trials: int, threads: int, epochs: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "dse.cli",
        "-m",
        "experiment=pareto_digits",
        f"paths.outputs={out}",
        f"threads={threads}",
        f"training.epochs={epochs}",
        f"hydra.sweeper.n_trials={trials}",
        "search.reference=null",  # workers would race to evaluate it first; keep them equal
    ]


def timed(procs: list[list[str]]) -> tuple[float, float]:
    """Start every command together; (wall, CPU) seconds until all have ended."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    running = [
        subprocess.Popen(c, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for c in procs
    ]
    for p in running:
        _, err = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"a sweep failed:\n{err[-3000:]}")
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def recorded(out: Path) -> int:
    """Design runs recorded under the study's parent run."""
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{out}/mlflow.db")
    exp = client.get_experiment_by_name("snn-dse").experiment_id
    (parent,) = client.search_runs([exp], "tags.`dse.kind` = 'sweep'")
    children = client.search_runs([exp], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    return len(children)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--out", type=Path, default=REPO / "outputs" / "bench_parallel_workers")
    args = parser.parse_args()
    one, two = args.out / "one_worker_2_threads", args.out / "two_workers_1_thread"
    for folder in (one, two):
        if folder.exists():
            raise SystemExit(f"{folder} exists: give another --out (each variant starts fresh)")
    half = args.trials // 2
    rows = {
        "1 worker x 2 threads": (timed([command(one, args.trials, 2, args.epochs)]), one),
        "2 workers x 1 thread": (
            timed([command(two, half, 1, args.epochs), command(two, half, 1, args.epochs)]),
            two,
        ),
    }
    print(f"{'variant':24} {'wall s':>8} {'CPU s':>8} {'design runs':>12}")
    for label, ((wall, cpu), out) in rows.items():
        print(f"{label:24} {wall:>8.1f} {cpu:>8.1f} {recorded(out):>12}")
    (w1, _), _ = rows["1 worker x 2 threads"]
    (w2, _), _ = rows["2 workers x 1 thread"]
    print(f"\ntwo single-thread workers take {w2 / w1:.2f}x the wall time of one two-thread worker")


if __name__ == "__main__":
    main()
