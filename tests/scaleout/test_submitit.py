"""Hydra's submitit launcher (the local one: SLURM's runs the same jobs on a cluster)
under the dse_optuna sweeper: trials run in job processes of their own."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_dse

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
