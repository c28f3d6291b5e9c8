"""What the stage cache buys the default search, and what orchestration costs.

Prints, measured side by side in one run on this machine:

(a) the default Pareto search (experiment=pareto_digits) with and without the stage
    cache: wall time, trials per minute, and the ratio;
(b) orchestration overhead (Hydra + Optuna + MLflow + artifacts): per cache-hit trial in
    ms, and as a share of the whole cached search's wall time;
(c) one warm-cache trial that changes only hardware.num_pes, in-process: the work beyond
    process start (compose + validate + cached stages + pricing + MLflow recording).

    python bench/cache_speedup.py [--trials 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DSE = Path(sys.executable).parent / "dse"


def search(outputs: Path, trials: int, cache: bool) -> float:
    start = time.perf_counter()
    subprocess.run(
        [
            str(DSE),
            "-m",
            "experiment=pareto_digits",
            f"hydra.sweeper.n_trials={trials}",
            f"paths.outputs={outputs}",
            f"cache.enabled={str(cache).lower()}",
        ],
        cwd=outputs.parent,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "TQDM_DISABLE": "1"},
    )
    return time.perf_counter() - start


def children(outputs: Path):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{outputs}/mlflow.db")
    exp = client.get_experiment_by_name("snn-dse")
    runs = client.search_runs([exp.experiment_id], max_results=5000)
    return [r for r in runs if "mlflow.parentRunId" in r.data.tags]


def warm_trial_ms(outputs: Path, repeats: int = 5) -> dict[str, float]:
    """In-process: one PE-count-only design point against a warm cache."""
    from hydra import compose, initialize_config_dir

    from dse import tracking
    from dse.cache import StageCache
    from dse.cli import _write_artifacts
    from dse.config import register_schemas
    from dse.pipeline import DesignPoint, build_plugins

    os.environ["TQDM_DISABLE"] = "1"  # the warm-up trains; keep its bar out of the figures
    register_schemas()
    timings: dict[str, list[float]] = {}
    client = tracking.connect(f"sqlite:///{outputs}/mlflow.db")
    exp_id = tracking.experiment_id(client, "snn-dse")
    for i in range(repeats + 1):  # the first round warms imports and the cache
        marks = [time.perf_counter()]
        with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
            cfg = compose(
                "config",
                overrides=[
                    "training.epochs=12",
                    f"paths.outputs={outputs}",
                    f"hardware.num_pes={8 + i}",
                ],
                return_hydra_config=True,
            )
        choices = dict(cfg.hydra.runtime.choices)
        marks.append(time.perf_counter())
        plugins = build_plugins(cfg)
        marks.append(time.perf_counter())
        result = DesignPoint(cfg, plugins, StageCache(cfg.cache.dir), choices).run()
        marks.append(time.perf_counter())
        run_id = tracking.start_design_run(client, exp_id, cfg, choices, "bench", None)
        art = _write_artifacts(cfg, result, outputs / "bench_artifacts", choices)
        tracking.finish_design_run(client, run_id, result.metrics, {}, art)
        marks.append(time.perf_counter())
        if i == 0:
            assert result.cache_use["training"] in ("hit", "miss")
            continue
        assert result.cache_use == {"training": "hit", "simulation": "hit"}, result.cache_use
        for name, a, b in zip(
            ["compose", "validate", "stages", "record"], marks, marks[1:], strict=False
        ):
            timings.setdefault(name, []).append(1000 * (b - a))
    return {name: statistics.median(values) for name, values in timings.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=20, help="trials per search (default 20)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        on, off = Path(tmp) / "on" / "outputs", Path(tmp) / "off" / "outputs"
        on.parent.mkdir()
        off.parent.mkdir()
        print(f"(a) experiment=pareto_digits, {args.trials} trials, same sampler seed")
        t_off = search(off, args.trials, cache=False)
        t_on = search(on, args.trials, cache=True)
        print(f"    without cache: {t_off:7.1f} s  {60 * args.trials / t_off:5.1f} trials/min")
        print(f"    with cache:    {t_on:7.1f} s  {60 * args.trials / t_on:5.1f} trials/min")
        print(f"    speed-up:      {t_off / t_on:5.2f}x")

        runs = children(on)
        hits = [r for r in runs if r.data.tags.get("dse.cache.simulation") == "hit"]
        stage_s = sum(r.data.metrics["stage_seconds"] for r in runs)
        per_hit = [
            (r.info.end_time - r.info.start_time) - 1000 * r.data.metrics["stage_seconds"]
            for r in hits
        ]
        print("(b) orchestration overhead, cached search")
        print(f"    trials: {len(runs)}, of which full cache hits: {len(hits)}")
        if per_hit:
            print(
                f"    per cache-hit trial, beyond its stages (MLflow run open to close): "
                f"median {statistics.median(per_hit):.0f} ms"
            )
        share = 1 - stage_s / t_on
        print(
            f"    stages {stage_s:.1f} s of {t_on:.1f} s wall: everything else "
            f"(process start, Hydra, Optuna, MLflow, artifacts) = {100 * share:.1f} %"
        )

        print("(c) one hardware.num_pes-only trial against a warm cache, in-process (median of 5)")
        ms = warm_trial_ms(on)
        for name, value in ms.items():
            print(f"    {name:<9} {value:7.1f} ms")
        print(f"    total     {sum(ms.values()):7.1f} ms beyond process start")


if __name__ == "__main__":
    main()
