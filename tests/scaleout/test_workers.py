"""Several workers on one study: PostgreSQL for Optuna and an ``mlflow server`` backed by
the same PostgreSQL, workers started in the same instant (the first-start race)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

DSE = str(Path(sys.executable).parent / "dse")
PASSWORD = "pw-never-recorded"
SMALL = ["training.pretrain.epochs=3", "training.epochs=1", "dataset.val_fraction=0.15"]


def start_worker(tmp_path: Path, i: int, storage: str, tracking: str, trials: int):
    folder = tmp_path / f"worker{i}"
    folder.mkdir()
    return subprocess.Popen(
        [DSE, "-m", "experiment=pareto_digits", f"hydra.sweeper.n_trials={trials}"]
        + [f"hydra.sweeper.storage={storage}", f"tracking.uri={tracking}"]
        + [f"paths.outputs={folder / 'outputs'}", f"cache.dir={tmp_path / 'cache'}", *SMALL],
        cwd=folder,
        env={**os.environ, "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_three_workers_started_together_share_one_study_and_one_front(
    tmp_path: Path, postgres_url: str, mlflow_server: str
) -> None:
    import optuna
    from mlflow import MlflowClient

    # trust authentication ignores the password: it is here to be kept out of every record
    storage = postgres_url.replace("://dse@", f"://dse:{PASSWORD}@")
    workers = [start_worker(tmp_path, i, storage, mlflow_server, 6) for i in range(3)]
    outs = [w.communicate(timeout=900)[0] for w in workers]
    for w, out in zip(workers, outs, strict=True):
        assert w.returncode == 0, out[-4000:]
        # each worker reports its own trials and the study's
        assert "6 of 6 new trials complete" in out and "trials in all" in out, out[-3000:]

    study = optuna.load_study(study_name="pareto_digits", storage=postgres_url)
    states = [t.state for t in study.trials]
    assert states.count(optuna.trial.TrialState.COMPLETE) == 18, states
    points = [tuple(sorted(t.params.items())) for t in study.trials]
    assert len(set(points)) == len(points), "workers drew the same design point"

    client = MlflowClient(tracking_uri=mlflow_server)
    exp = client.get_experiment_by_name("snn-dse").experiment_id
    runs = client.search_runs([exp], max_results=1000)
    parents = [r for r in runs if r.data.tags.get("dse.kind") == "sweep"]
    assert len(parents) == 1, [r.info.run_name for r in parents]
    parent = parents[0]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(children) == 18 and all(r.info.status == "FINISHED" for r in children)
    assert parent.info.status == "FINISHED"

    on_front = {
        int(r.data.tags["optuna_trial"])
        for r in children
        if r.data.tags.get("dse.pareto_optimal") == "true"
    }
    assert on_front == {t.number for t in study.best_trials}
    history = client.get_metric_history(parent.info.run_id, "hypervolume")
    steps = [m.step for m in history]
    assert len(steps) == len(set(steps)), (
        "two writers recorded the same step",
        sorted((m.timestamp, m.step, m.value) for m in history),
    )
    assert max(steps) == len(children)
    values = [m.value for m in sorted(history, key=lambda m: m.step)]
    assert values == sorted(values), sorted((m.timestamp, m.step, m.value) for m in history)

    # no password in any tag, param, artifact, log line or saved config of ours (Hydra's
    # own .hydra/ files keep the command line: docs/SCALING.md says to use PGPASSWORD)
    for run in runs:
        for key, value in {**run.data.tags, **run.data.params}.items():
            assert PASSWORD not in value, (run.info.run_name, key)
    assert all(PASSWORD not in out for out in outs)
    for path in tmp_path.rglob("*"):
        if path.is_file() and ".hydra" not in path.parts and path.suffix != ".journal":
            assert PASSWORD.encode() not in path.read_bytes(), path


def test_a_worker_killed_mid_trial_is_settled_by_the_next(
    tmp_path: Path, postgres_url: str, mlflow_server: str
) -> None:
    """SIGKILL in the middle of a trial, then the same command again: the dead worker's
    trial FAILED with its run closed, nothing RUNNING, the 6 asked for complete, each
    completed trial recorded once."""
    import signal
    import time

    import optuna
    from mlflow import MlflowClient

    first = start_worker(tmp_path, 0, postgres_url, mlflow_server, 6)
    client = MlflowClient(tracking_uri=mlflow_server)
    deadline = time.monotonic() + 600
    while True:  # kill once two trials are told and a third is running, its MLflow run open
        time.sleep(0.05)
        try:
            study = optuna.load_study(study_name="pareto_digits", storage=postgres_url)
        except KeyError:  # not created yet
            continue
        states = [t.state.name for t in study.trials]
        if states.count("COMPLETE") >= 2 and "RUNNING" in states:
            exp = client.get_experiment_by_name("snn-dse")
            running = client.search_runs(
                [exp.experiment_id],
                "attributes.status = 'RUNNING' and tags.optuna_trial != ''",
            )
            if running:
                break
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()[0]
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=60)

    second = start_worker(tmp_path, 1, postgres_url, mlflow_server, 6)
    out = second.communicate(timeout=900)[0]
    assert second.returncode == 0, out[-4000:]

    study = optuna.load_study(study_name="pareto_digits", storage=postgres_url)
    states = [t.state.name for t in study.trials]
    assert "RUNNING" not in states and states.count("COMPLETE") == 6, states
    exp = client.get_experiment_by_name("snn-dse").experiment_id
    runs = client.search_runs([exp], max_results=1000)
    assert "RUNNING" not in {r.info.status for r in runs}
    children = [r for r in runs if r.data.tags.get("dse.kind") != "sweep"]
    finished = [int(r.data.tags["optuna_trial"]) for r in children if r.info.status == "FINISHED"]
    complete = sorted(t.number for t in study.trials if t.state.name == "COMPLETE")
    assert sorted(finished) == complete  # each completed trial recorded once, none lost
    # the killed trial's run closed, or (a cache-hit trial is ~0.1 s) it had finished before
    # the kill landed and its result was kept
    killed = [r for r in children if r.info.status in ("KILLED", "FAILED")]
    assert killed or "finished before its process died: result kept" in out, out[-3000:]
