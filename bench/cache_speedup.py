"""What the stage cache buys the default search, and what orchestration costs.

Prints, measured side by side in one run on this machine:

(a) the default Pareto search (``dse -m experiment=pareto_digits``, fresh outputs folder)
    with and without the stage cache: wall time, trials per minute, and the ratio;
(b) where the cached search's time goes, from what it recorded in MLflow: process start
    (imports, creating the MLflow store), the design points' own stages (data, training,
    simulation, pricing: metric ``stage_seconds``), orchestration during the sweep (Hydra,
    Optuna, MLflow recording, artifacts, the front's updates and plots), process exit;
    each as a share of the total;
(c) trials that change only ``hardware.num_pes`` against a warm cache: the marginal cost
    of one more trial in a sweep (two sweeps of different lengths, subtracted, so process
    start-up cancels), and where one such trial's time goes, phase by phase, in-process.

    python bench/cache_speedup.py [--trials N]
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
PE_ONLY = ["quantizer.bits=5", "coding.time_window=4"]  # fixed: the sampler varies PEs only


def search(outputs: Path, trials: int | None, *overrides: str) -> float:
    """Wall seconds of one ``dse -m experiment=pareto_digits`` process (``trials``: None
    keeps the experiment's own n_trials)."""
    start = time.perf_counter()
    n_trials = [] if trials is None else [f"hydra.sweeper.n_trials={trials}"]
    subprocess.run(
        [
            str(DSE),
            "-m",
            "experiment=pareto_digits",
            *n_trials,
            f"paths.outputs={outputs}",
            *overrides,
        ],
        cwd=outputs.parent,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "TQDM_DISABLE": "1"},
    )
    return time.perf_counter() - start


def recorded_runs(outputs: Path, study: str) -> tuple[object, list]:
    """The sweep's parent run and its children."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{outputs}/mlflow.db")
    exp = client.get_experiment_by_name("snn-dse").experiment_id
    runs = client.search_runs([exp], max_results=5000)
    (parent,) = [r for r in runs if r.info.run_name == f"sweep-{study}"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    return parent, children


def where_time_goes(outputs: Path, wall: float, launched: float) -> dict[str, float]:
    """Seconds per part of one search, from the parent run's span and the children's
    ``stage_seconds``: the sweep runs from the parent's start to its end."""
    parent, children = recorded_runs(outputs, "pareto_digits")
    sweep_start, sweep_end = parent.info.start_time / 1000, parent.info.end_time / 1000
    stages = sum(r.data.metrics["stage_seconds"] for r in children)
    return {
        "process start (imports, new MLflow store)": sweep_start - launched,
        "design-point stages (data, training, simulation, pricing)": stages,
        "orchestration (Hydra, Optuna, MLflow, front)": sweep_end - sweep_start - stages,
        "process exit (interpreter teardown)": launched + wall - sweep_end,
    }


def phase_ms(outputs: Path, repeats: int = 7) -> dict[str, float]:
    """One PE-count-only trial against a warm cache, in-process, phase by phase (medians).

    The same calls ``dse`` makes for a trial: the launcher's job config, validation and
    plugin construction, the (cached) stages and pricing, the artifacts, MLflow recording.
    """
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.types import HydraContext, RunMode

    from dse.cli.app import write_artifacts
    from dse.point.cache import StageCache
    from dse.point.pipeline import DesignPoint, build_plugins
    from dse.registry.schema import register_schemas
    from dse.runtime.adapters.hydra import callbacks
    from dse.tracking import runs as tracking
    from hydra_plugins.dse_launcher.dse_launcher import DseLocalLauncher

    register_schemas()
    fixed = ["experiment=pareto_digits", f"paths.outputs={outputs}", *PE_ONLY]
    timings: dict[str, list[float]] = {}
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()
        master = loader.load_configuration("config", fixed, run_mode=RunMode.MULTIRUN)
        launcher = DseLocalLauncher()
        context = HydraContext(config_loader=loader, callbacks=callbacks())
        launcher.setup(hydra_context=context, task_function=lambda cfg: None, config=master)
        client = tracking.connect(f"sqlite:///{outputs}/mlflow.db")
        exp_id = tracking.experiment_id(client, "snn-dse")
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(repeats + 1):  # the first round warms imports and caches
                marks = [time.perf_counter()]
                cfg = launcher.job_config([*fixed, f"hardware.num_pes={8 + i}"])
                choices = dict(cfg.hydra.runtime.choices)
                marks.append(time.perf_counter())
                plugins = build_plugins(cfg)
                marks.append(time.perf_counter())
                result = DesignPoint(cfg, plugins, StageCache(cfg.cache.dir), choices).run()
                marks.append(time.perf_counter())
                plain = tracking.plain_config(cfg)
                artifacts = write_artifacts(cfg, result, Path(tmp) / str(i), choices, plain)
                marks.append(time.perf_counter())
                run_id = tracking.start_design_run(
                    client, exp_id, cfg, choices, "bench", None, log_params=False
                )
                params = tracking.run_params(plain)
                tracking.finish_design_run(client, run_id, result.metrics, {}, artifacts, params)
                marks.append(time.perf_counter())
                assert result.cache_use == {"training": "hit", "simulation": "hit"}
                if i == 0:
                    continue
                names = ["job config", "validate", "stages", "artifacts", "MLflow run"]
                for name, a, b in zip(names, marks, marks[1:], strict=False):
                    timings.setdefault(name, []).append(1000 * (b - a))
    return {name: statistics.median(values) for name, values in timings.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--trials", type=int, default=None, help="trials per search (default: the experiment's)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        on, off = Path(tmp) / "on" / "outputs", Path(tmp) / "off" / "outputs"
        on.parent.mkdir()
        off.parent.mkdir()
        t_off = search(off, args.trials, "cache.enabled=false")
        launched = time.time()
        t_on = search(on, args.trials)
        trials = len(recorded_runs(on, "pareto_digits")[1])
        print(f"(a) experiment=pareto_digits, {trials} trials, same sampler seed")
        print(f"    without cache: {t_off:7.1f} s  {60 * trials / t_off:5.1f} trials/min")
        print(f"    with cache:    {t_on:7.1f} s  {60 * trials / t_on:5.1f} trials/min")
        print(f"    speed-up:      {t_off / t_on:5.2f}x")

        print("(b) where the cached search's time goes")
        for name, seconds in where_time_goes(on, t_on, launched).items():
            print(f"    {name:<58} {seconds:6.1f} s  {100 * seconds / t_on:5.1f} %")

        print("(c) trials that change only hardware.num_pes, warm cache")
        short, long = 5, 45
        pe_only = [*PE_ONLY, "hydra.sweeper.study_name=pe_only"]
        search(on, 1, *pe_only)  # trains (bits, T) = (5, 4) once
        t_short = search(on, short, *pe_only)
        t_long = search(on, long, *pe_only)
        marginal = 1000 * (t_long - t_short) / (long - short)
        print(
            f"    marginal cost of one more trial in a sweep: {marginal:.0f} ms "
            f"({long}- and {short}-trial sweeps: {t_long:.1f} s, {t_short:.1f} s)"
        )
        print("    one such trial in-process, phase by phase (median of 7):")
        ms = phase_ms(on)
        for name, value in ms.items():
            print(f"      {name:<11} {value:6.1f} ms")
        work = ms["job config"] + ms["validate"] + ms["stages"]
        print(f"      design-point work (job config + validate + stages): {work:.1f} ms")


if __name__ == "__main__":
    main()
