"""record_sweep_front on a real MLflow store (SQLite in tmp_path)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dse.pareto import Constraint, Objective, pareto_mask, record_sweep_front

OBJ = [Objective("snn_accuracy", "maximize"), Objective("energy_uj", "minimize")]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):
    import mlflow

    # One SQLite store for the module: creating its tables costs seconds.
    return mlflow.MlflowClient(f"sqlite:///{tmp_path_factory.mktemp('mlflow')}/mlflow.db")


@pytest.fixture()
def store(client, tmp_path: Path, request: pytest.FixtureRequest):
    exp = client.create_experiment(request.node.name, artifact_location=(tmp_path / "art").as_uri())
    parent = client.create_run(exp, run_name="sweep").info.run_id
    return client, exp, parent


def add_child(client, exp, parent, trial, bits, acc, energy, area, status="FINISHED"):
    tags = {"mlflow.parentRunId": parent, "optuna_trial": str(trial)}
    run = client.create_run(exp, tags=tags, run_name=f"dp{trial}").info.run_id
    client.log_param(run, "quantizer.bits", str(bits))
    client.log_param(run, "dataset", "digits")  # the same everywhere: not a design parameter
    if status == "FINISHED":
        for k, v in (("snn_accuracy", acc), ("energy_uj", energy), ("area_mm2", area)):
            client.log_metric(run, k, v)
    client.set_terminated(run, status)
    return run


def test_tags_artifacts_and_monotone_hypervolume(store, tmp_path: Path) -> None:
    client, exp, parent = store
    rng = np.random.default_rng(3)
    constraints = [Constraint.parse("area_mm2 <= 2")]
    hv = []
    for batch in range(3):
        for i in range(4):
            t = batch * 4 + i
            add_child(client, exp, parent, t, 3 + i, *rng.random(3) * [100, 10, 3])
        add_child(client, exp, parent, 100 + batch, 4, 0, 0, 0, status="FAILED")
        summary = record_sweep_front(client, parent, OBJ, constraints)
        hv.append(summary.hypervolume)
        assert summary.failed == batch + 1 and summary.n_finished == 4 * (batch + 1)

    # tags agree with a front computed here from the children's metrics
    runs = client.search_runs([exp], f"tags.mlflow.parentRunId = '{parent}'")
    done = [r for r in runs if r.info.status == "FINISHED"]
    vals = np.array([[r.data.metrics["snn_accuracy"], r.data.metrics["energy_uj"]] for r in done])
    feas = np.array([r.data.metrics["area_mm2"] <= 2 for r in done])
    expect = pareto_mask(vals, ["maximize", "minimize"], feas)
    for r, on, ok in zip(done, expect, feas, strict=True):
        assert r.data.tags["dse.pareto_optimal"] == ("true" if on else "false")
        assert r.data.tags["dse.feasible"] == ("true" if ok else "false")
    assert not any("dse.pareto_optimal" in r.data.tags for r in runs if r not in done)
    on_front = {r.info.run_id for r, on in zip(done, expect, strict=True) if on}
    assert {p.run_id for p in summary.front} == on_front

    history = client.get_metric_history(parent, "hypervolume")
    assert [h.step for h in history] == [4, 8, 12]
    values = [h.value for h in history]
    assert values == pytest.approx(hv) and values == sorted(values) and values[0] > 0
    # a second call with nothing new adds no history point; the reference is fixed in params
    record_sweep_front(client, parent, OBJ, constraints)
    assert len(client.get_metric_history(parent, "hypervolume")) == 3
    params = client.get_run(parent).data.params
    assert set(params) == {"hypervolume_reference.snn_accuracy", "hypervolume_reference.energy_uj"}

    art = Path(client.download_artifacts(parent, "", str(tmp_path / "dl")))
    for name in ("png", "svg", "csv"):
        assert (art / f"pareto_front.{name}").stat().st_size > 0
    assert (art / "pareto_front.png").read_bytes()[:4] == b"\x89PNG"
    data = json.loads((art / "pareto_summary.json").read_text())
    assert len(data["front"]) == int(expect.sum())
    assert set(data["best"]) == {"snn_accuracy", "energy_uj"}
    csv_lines = (art / "pareto_front.csv").read_text().splitlines()
    assert csv_lines[0].startswith("run_id,trial,quantizer.bits,")  # only the varying param
    assert "dataset" not in csv_lines[0] and len(csv_lines) == 1 + int(expect.sum())
    assert "Pareto front" in (art / "pareto_summary.md").read_text()
    table = summary.table()
    assert (
        "quantizer.bits" in table
        and "trial" in table
        and len(table.splitlines()) == 3 + len(summary.front)
    )


def test_constraint_violator_never_pareto_even_if_best(store) -> None:
    client, exp, parent = store
    best = add_child(client, exp, parent, 0, 5, 99.0, 0.1, 9.0)  # dominates all, area too big
    others = [add_child(client, exp, parent, i, 4, 90.0 - i, 1.0 + i, 1.0) for i in (1, 2)]
    summary = record_sweep_front(client, parent, OBJ, [Constraint.parse("area_mm2 <= 2")])
    assert client.get_run(best).data.tags["dse.pareto_optimal"] == "false"
    assert client.get_run(best).data.tags["dse.feasible"] == "false"
    assert client.get_run(others[0]).data.tags["dse.pareto_optimal"] == "true"
    assert [p.run_id for p in summary.front] == [others[0]]


def test_explicit_reference_and_empty_sweep(store) -> None:
    client, exp, parent = store
    empty = record_sweep_front(client, parent, OBJ)
    assert empty.hypervolume == 0.0 and empty.front == [] and empty.reference is None
    add_child(client, exp, parent, 0, 4, 90.0, 2.0, 1.0)
    s = record_sweep_front(client, parent, OBJ, reference={"snn_accuracy": 0, "energy_uj": 10})
    assert s.hypervolume == pytest.approx(90.0 * 8.0)
    # the stored reference wins over a later argument: the history stays comparable
    s = record_sweep_front(client, parent, OBJ, reference={"snn_accuracy": 50, "energy_uj": 5})
    assert s.reference == {"snn_accuracy": 0.0, "energy_uj": 10.0}


def test_default_reference_is_fixed_wide_from_the_first_trials(store) -> None:
    client, exp, parent = store
    add_child(client, exp, parent, 0, 4, 90.0, 40.0, 1.0)
    first = record_sweep_front(client, parent, OBJ)
    # one point seen: pushed out by |worst| (margin 1.0): (0 %, 80 uJ)
    assert first.reference == pytest.approx({"snn_accuracy": 0.0, "energy_uj": 80.0})
    assert first.hypervolume == pytest.approx(90.0 * 40.0)
    add_child(client, exp, parent, 1, 3, 60.0, 70.0, 1.0)  # worse than the first: dominated
    add_child(client, exp, parent, 2, 3, 50.0, 10.0, 1.0)  # a new trade-off: adds volume
    later = record_sweep_front(client, parent, OBJ)
    assert later.reference == first.reference
    assert later.hypervolume == pytest.approx(90.0 * 40.0 + 50.0 * 30.0)
    assert [p.name for p in later.front] == ["trial 0", "trial 2"]


def test_without_artifacts_tags_and_hypervolume_still_follow_the_front(store) -> None:
    client, exp, parent = store
    best = add_child(client, exp, parent, 0, 5, 95.0, 1.0, 1.0)
    worse = add_child(client, exp, parent, 1, 4, 90.0, 2.0, 1.0)
    summary = record_sweep_front(client, parent, OBJ, artifacts=False)
    assert [p.run_id for p in summary.front] == [best]
    assert client.get_run(best).data.tags["dse.pareto_optimal"] == "true"
    assert client.get_run(worse).data.tags["dse.pareto_optimal"] == "false"
    assert client.get_metric_history(parent, "hypervolume")[-1].step == 2
    assert client.list_artifacts(parent) == []
