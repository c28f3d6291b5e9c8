"""Hydra's submitit launcher (the local one: SLURM's runs the same jobs on a cluster)
under the dse_optuna sweeper: trials run in job processes of their own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.services import run_dse

pytestmark = pytest.mark.slow


def test_a_search_runs_its_trials_through_submitit_local(tmp_path: Path) -> None:

    import optuna
    from mlflow import MlflowClient

    out = tmp_path / "outputs"
    done = run_dse(
        ["-m", "experiment=pareto_digits"]
        + ["hydra/launcher=submitit_local", "hydra.sweeper.n_trials=2", "hydra.sweeper.n_jobs=2"]
        + ["training.pretrain.epochs=2", "training.epochs=1", f"paths.outputs={out}"],
        tmp_path,
        {"OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "2 of 2 new trials complete" in done.stdout
    # submitit's own record of each job: a folder per job process, with its result
    results = list((out / "multirun").rglob(".submitit/*/*_result.pkl"))
    assert len({r.parent for r in results}) == 2

    study = optuna.load_study(
        study_name="pareto_digits",
        storage=optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(out / "optuna.journal"))
        ),
    )
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE"]
    client = MlflowClient(tracking_uri=f"sqlite:///{out}/mlflow.db")
    runs = client.search_runs([client.get_experiment_by_name("snn-dse").experiment_id])
    (parent,) = [r for r in runs if r.data.tags.get("dse.kind") == "sweep"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert parent.info.status == "FINISHED" and len(children) == 2
    assert all(r.info.status == "FINISHED" for r in children)


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (Linux /proc)."""
    found, todo = set(), [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                if child not in found:
                    found.add(child)
                    todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended; its parent has not reaped it yet


@pytest.mark.parametrize("signum", [signal.SIGTERM])
def test_a_killed_sweep_cancels_its_submitit_jobs(tmp_path: Path, signum: int) -> None:
    """The sweep stopped while its submitit_local jobs train: the jobs are cancelled
    (submitit's Job.cancel), none outlives the sweep, their MLflow runs are closed."""
    from mlflow import MlflowClient

    out = tmp_path / "outputs"
    sweep = subprocess.Popen(
        [str(Path(sys.executable).parent / "dse"), "-m", "experiment=pareto_digits"]
        + ["hydra/launcher=submitit_local", "hydra.sweeper.n_trials=2", "hydra.sweeper.n_jobs=2"]
        + ["training.pretrain.epochs=400", "cache.enabled=false", f"paths.outputs={out}"],
        cwd=tmp_path,
        env={**os.environ, "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 300
    while True:  # both jobs started: their design points hold RUNNING MLflow runs
        time.sleep(0.5)
        assert sweep.poll() is None and time.monotonic() < deadline, sweep.communicate()[1]
        if len(list((out / "multirun").glob("*/.submitit/*/*_submitted.pkl"))) < 2:
            continue
        client = MlflowClient(tracking_uri=f"sqlite:///{out}/mlflow.db")
        exp = client.get_experiment_by_name("snn-dse")
        filt = "attributes.status = 'RUNNING' and tags.optuna_trial != ''"
        if exp and len(client.search_runs([exp.experiment_id], filt)) == 2:
            break
    jobs = descendants(sweep.pid)
    assert len(jobs) >= 2, jobs
    sweep.send_signal(signum)
    try:
        stderr = sweep.communicate(timeout=120)[1]
        deadline = time.monotonic() + 60
        while any(alive(p) for p in jobs) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = [p for p in jobs if alive(p)]
    finally:  # whatever happened, nothing of this test keeps running
        for p in [sweep.pid, *jobs]:
            if alive(p):
                os.kill(p, signal.SIGKILL)
    assert sweep.returncode == 128 + signum, stderr[-3000:]
    assert not left, f"submitit jobs outlived the sweep: {left}"
    runs = client.search_runs([exp.experiment_id], "tags.optuna_trial != ''")
    assert {r.info.status for r in runs} <= {"KILLED", "FAILED"}, [r.info.status for r in runs]
