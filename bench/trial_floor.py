"""A cache-hit trial's cost against the floor of the libraries ``dse`` builds on.

The floor is what a user gets from the same libraries without us, per trial:

(a) Optuna ask/tell on a journal-file storage (two objectives);
(b) (a) + one MLflow child run carrying exactly the content of one of our child runs
    (params, metrics, tags, artifact files: copied from a real ``dse`` run), logged the
    plain fluent way on a fresh SQLite store;
(c) (b) with everything in one ``log_batch`` call; (c') the same with MLflow's
    asynchronous logging, to show what that costs;
(d) Hydra's ``run_job`` on an empty task (the job config composed beforehand, as a
    launcher does), with Hydra's defaults: the job's ``.hydra/`` files written.

Ours: the marginal cost of one more cache-hit trial in a real ``dse -m`` sweep (two sweep
lengths subtracted, so process start-up cancels), in wall and CPU time (the CPU time of
the child process, far less noisy than wall time on a shared machine). The floors are
measured interleaved and repeated in this one process; medians are printed, and our cost
as a ratio to (b)+(d) and to (c)+(d).

    python bench/trial_floor.py [--trials N] [--repeats R]
"""

from __future__ import annotations

import argparse
import copy
import logging
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DSE = Path(sys.executable).parent / "dse"
# Fixed bits and T: the sampler varies the PE count only, so every trial after the first
# is a cache hit and only re-prices.
PE_ONLY = ["quantizer.bits=5", "coding.time_window=4", "hydra.sweeper.study_name=floor"]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def sweep(outputs: Path, trials: int) -> tuple[float, float]:
    """Wall and CPU seconds of one ``dse -m experiment=pareto_digits`` process."""
    wall, cpu = time.perf_counter(), children_cpu()
    subprocess.run(
        [str(DSE), "-m", "experiment=pareto_digits", f"hydra.sweeper.n_trials={trials}"]
        + [f"paths.outputs={outputs}", *PE_ONLY],
        cwd=outputs.parent,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1"},
    )
    return time.perf_counter() - wall, children_cpu() - cpu


class ChildContent:
    """Params, metrics, tags and artifact files of one real child run of ours."""

    def __init__(self, outputs: Path, folder: Path) -> None:
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=f"sqlite:///{outputs}/mlflow.db")
        exp = client.get_experiment_by_name("snn-dse").experiment_id
        runs = client.search_runs([exp], filter_string="tags.mlflow.parentRunId != ''")
        run = runs[0]
        self.params = dict(run.data.params)
        self.metrics = dict(run.data.metrics)
        self.tags = {k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")}
        self.artifacts = Path(client.download_artifacts(run.info.run_id, "", str(folder)))


def timed(trials: int, step: Callable[[int], None]) -> tuple[float, float]:
    """Wall and CPU milliseconds per call of ``step`` (this process's own CPU)."""
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(trials):
        step(i)
    return (
        1000 * (time.perf_counter() - wall) / trials,
        1000 * (time.process_time() - cpu) / trials,
    )


def optuna_study(folder: Path):
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = JournalStorage(JournalFileBackend(str(folder / "optuna.journal")))
    return optuna.create_study(storage=storage, directions=["maximize", "minimize"])


def ask_tell(study, i: int) -> None:
    trial = study.ask()
    trial.suggest_int("hardware.num_pes", 4, 256, log=True)
    study.tell(trial, [90.0 + i % 7, 0.3 + 0.01 * (i % 5)])


def floor_a(folder: Path, trials: int) -> tuple[float, float]:
    study = optuna_study(folder)
    return timed(trials, lambda i: ask_tell(study, i))


def floor_mlflow(
    folder: Path, trials: int, content: ChildContent, mode: str
) -> tuple[float, float]:
    """(a) plus one child run per trial: mode ``plain`` (fluent calls), ``batch`` (one
    ``log_batch``) or ``async`` (``log_batch`` with ``synchronous=False``)."""
    import mlflow
    from mlflow.entities import Metric, Param, RunTag

    mlflow.set_tracking_uri(f"sqlite:///{folder}/mlflow.db")
    client = mlflow.MlflowClient()
    # Artifacts beside the store, not in ./mlruns of the working directory.
    exp = client.create_experiment("floor", artifact_location=(folder / "artifacts").as_uri())
    parent = client.create_run(exp, run_name="sweep").info.run_id
    study = optuna_study(folder)

    def step(i: int) -> None:
        ask_tell(study, i)
        tags = {"mlflow.parentRunId": parent, **content.tags}
        run_id = client.create_run(exp, run_name=f"trial {i}", tags=tags).info.run_id
        if mode == "plain":
            with mlflow.start_run(run_id=run_id):
                mlflow.log_params(content.params)
                mlflow.log_metrics(content.metrics)
                mlflow.log_artifacts(str(content.artifacts))
            return
        now = int(time.time() * 1000)
        client.log_batch(
            run_id,
            metrics=[Metric(k, v, now, 0) for k, v in content.metrics.items()],
            params=[Param(k, v) for k, v in content.params.items()],
            tags=[RunTag(k, v) for k, v in content.tags.items()],
            synchronous=mode != "async",
        )
        client.log_artifacts(run_id, str(content.artifacts))
        client.set_terminated(run_id)

    return timed(trials, step)


def floor_d(folder: Path, trials: int) -> tuple[float, float]:
    """Hydra's ``run_job`` on an empty task, with our config (the sweep's job config)."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.utils import run_job
    from hydra.types import HydraContext, RunMode

    from dse.registry.discovery import CONF_DIR
    from dse.registry.schema import register_schemas
    from dse.runtime.adapters.hydra import callbacks

    register_schemas()
    # Hydra's own default: every job writes its .hydra/ files (dse's sweeps do not)
    overrides = [
        "experiment=pareto_digits",
        f"hydra.sweep.dir={folder}/multirun",
        "hydra.output_subdir=.hydra",
    ]
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()
        master = loader.load_configuration("config", overrides, run_mode=RunMode.MULTIRUN)
        job = loader.load_sweep_config(master, ["hardware.num_pes=8"])
        context = HydraContext(config_loader=loader, callbacks=callbacks())
        configs = [copy.deepcopy(job) for _ in range(trials)]  # composed beforehand

        def step(i: int) -> None:
            configs[i].hydra.job.num = i
            run_job(
                hydra_context=context,
                task_function=lambda cfg: None,
                config=configs[i],
                job_dir_key="hydra.sweep.dir",
                job_subdir_key="hydra.sweep.subdir",
            )

        return timed(trials, step)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=40, help="trials per floor measurement")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats")
    args = parser.parse_args()
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    os.environ["MLFLOW_LOGGING_LEVEL"] = "WARNING"  # read when mlflow is first imported
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        outputs = root / "sweep" / "outputs"
        outputs.parent.mkdir()
        sweep(outputs, 1)  # trains (bits, T) = (5, 4) once: later trials are cache hits
        content = ChildContent(outputs, root / "content")

        names = {
            "a": "(a)  Optuna ask/tell, journal",
            "b": "(b)  (a) + MLflow child run, plain",
            "c": "(c)  (a) + MLflow child run, one log_batch",
            "c_async": "(c') (c) asynchronous",
            "d": "(d)  Hydra run_job, empty task",
        }
        results: dict[str, list[tuple[float, float]]] = {k: [] for k in names}
        ours: list[tuple[float, float]] = []
        short, long = 5, 5 + args.trials
        for r in range(args.repeats):
            for key in names:
                folder = root / f"{key}-{r}"
                folder.mkdir()
                if key == "a":
                    results[key].append(floor_a(folder, args.trials))
                elif key == "d":
                    results[key].append(floor_d(folder, args.trials))
                else:
                    mode = {"b": "plain", "c": "batch", "c_async": "async"}[key]
                    results[key].append(floor_mlflow(folder, args.trials, content, mode))
            t_short = sweep(outputs, short)
            t_long = sweep(outputs, long)
            ours.append(
                (
                    1000 * (t_long[0] - t_short[0]) / (long - short),
                    1000 * (t_long[1] - t_short[1]) / (long - short),
                )
            )

        def median(values: list[tuple[float, float]]) -> tuple[float, float]:
            return (
                statistics.median(v[0] for v in values),
                statistics.median(v[1] for v in values),
            )

        print(
            f"per trial, median of {args.repeats} interleaved repeats of {args.trials} trials "
            f"(child run content: {len(content.params)} params, {len(content.metrics)} metrics, "
            f"{len(content.tags)} tags, {sum(1 for p in content.artifacts.rglob('*') if p.is_file())} files)"
        )
        print(f"{'':<46}{'wall ms':>9}{'CPU ms':>9}")
        med = {key: median(values) for key, values in results.items()}
        for key, label in names.items():
            print(f"{label:<46}{med[key][0]:>9.1f}{med[key][1]:>9.1f}")
        our = median(ours)
        print(f"{'ours: a cache-hit trial in a dse -m sweep':<46}{our[0]:>9.1f}{our[1]:>9.1f}")
        for label, floor in (("(b)+(d)", "b"), ("(c)+(d)", "c")):
            wall = med[floor][0] + med["d"][0]
            cpu = med[floor][1] + med["d"][1]
            print(
                f"ours / {label}: {our[1] / cpu:.2f}x CPU, {our[0] / wall:.2f}x wall "
                f"(floor {cpu:.1f} ms CPU, {wall:.1f} ms wall)"
            )


if __name__ == "__main__":
    main()
