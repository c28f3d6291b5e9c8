"""The front's writer puts on every child run why it is where it is (real SQLite store)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dse.front.search import Constraint, Objective
from dse.front.store import SweepFront

OBJ = [Objective("snn_accuracy", "maximize"), Objective("energy_uj", "minimize")]


def test_children_record_dominator_or_violated_constraint(tmp_path: Path) -> None:
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    exp = client.create_experiment("explain", artifact_location=(tmp_path / "art").as_uri())
    parent = client.create_run(exp, run_name="sweep").info.run_id
    runs = {}
    for trial, acc, energy in [(0, 90.0, 1.0), (1, 95.0, 2.0), (2, 85.0, 1.5), (3, 70.0, 0.1)]:
        tags = {"mlflow.parentRunId": parent, "optuna_trial": str(trial)}
        run = client.create_run(exp, tags=tags).info.run_id
        client.log_metric(run, "snn_accuracy", acc)
        client.log_metric(run, "energy_uj", energy)
        client.set_terminated(run, "FINISHED")
        runs[trial] = run
    front = SweepFront.load(client, parent, OBJ, [Constraint.parse("snn_accuracy >= 80")])
    front.record(artifacts=False)  # intermediate records leave the explanations out
    assert "dse.why" not in client.get_run(runs[2]).data.tags
    front.record(artifacts=True)

    dominated = client.get_run(runs[2]).data.tags
    assert dominated["dse.why"] == "dominated"
    assert dominated["dse.dominated_by"] == runs[0]
    assert float(dominated["dse.margin.snn_accuracy"]) == pytest.approx(5.0)
    assert dominated["mlflow.note.content"].startswith("Dominated by [trial 0](#/experiments/")
    infeasible = client.get_run(runs[3]).data.tags
    assert infeasible["dse.why"] == "infeasible"
    assert infeasible["dse.violates"] == "snn_accuracy >= 80"
    assert float(infeasible["dse.violation.snn_accuracy"]) == pytest.approx(10.0)
    assert infeasible["dse.explanation"].startswith("Infeasible: violates snn_accuracy >= 80 by 10")
    assert client.get_run(runs[1]).data.tags["dse.why"] == "front"
