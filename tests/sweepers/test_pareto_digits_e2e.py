"""The real `dse -m experiment=pareto_digits`, shrunk to two one-epoch trials."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hydra_plugins.dse_optuna_sweeper._storage import optuna_storage

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_pareto_digits_sweep_end_to_end(tmp_path: Path) -> None:
    import mlflow
    import optuna

    out = tmp_path / "outputs"
    cmd = [
        sys.executable,
        "-m",
        "dse.cli",
        "-m",
        "experiment=pareto_digits",
        f"paths.outputs={out}",
        "training.epochs=1",
        "hydra.sweeper.n_trials=2",
    ]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"optuna-dashboard {out}/optuna.journal" in proc.stdout and "mlflow ui" in proc.stdout

    storage = optuna_storage(f"{out}/optuna.journal")  # the default: a journal file
    study = optuna.load_study(study_name="pareto_digits", storage=storage)
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE"]
    assert set(study.trials[0].params) == {
        "quantizer.bits",
        "coding.time_window",
        "hardware.num_pes",
    }
    client = mlflow.MlflowClient(f"sqlite:///{out}/mlflow.db")
    exp = client.get_experiment_by_name("snn-dse").experiment_id
    (parent,) = client.search_runs([exp], "tags.`dse.kind` = 'sweep'")
    runs = client.search_runs([exp], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert len(runs) == 2
    for run in runs:
        trial = study.trials[int(run.data.tags["optuna_trial"])]
        assert run.data.tags["optuna.trial_state"] == "COMPLETE"
        assert run.data.tags["dse.pareto_optimal"] in ("true", "false")
        assert run.data.params["quantizer.bits"] == str(trial.params["quantizer.bits"])
        assert run.data.metrics["energy_uj"] == pytest.approx(trial.values[1])
    assert any(r.data.tags["dse.pareto_optimal"] == "true" for r in runs)
    names = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"pareto_front.png", "pareto_front.csv", "pareto_summary.json"} <= names

    # browsable: the run list first, the paper's design as trial 0, names telling runs apart
    assert client.get_experiment(exp).tags["mlflow.experimentKind"] == "custom_model_development"
    reference = {"quantizer.bits": 5, "coding.time_window": 8, "hardware.num_pes": 256}
    assert study.trials[0].params == reference
    assert study.metric_names == ["snn_accuracy", "energy_uj"]
    by_trial = {r.data.tags["optuna_trial"]: r.info.run_name for r in runs}
    assert by_trial["0"] == "t0 T8 5b 256PE 1ep" and len(set(by_trial.values())) == 2
    note = parent.data.tags["mlflow.note.content"]
    assert "Reference design: paper: log 5-bit, T = 8" in note and "trial 0" in note
    assert parent.data.params["sweep.space.hardware.num_pes"] == "tag(log, int(interval(4, 256)))"
    assert "the front: http://127.0.0.1:5000/#/experiments/" in proc.stdout
