"""record_sweep_front, SweepFront and the sweeper's tracker on a real MLflow store (SQLite)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from dse.front.pareto import pareto_mask
from dse.front.render import FrontSummary
from dse.front.search import Constraint, Objective
from dse.front.store import TAG_PARETO, SweepFront, record_sweep_front
from dse.tracking.runs import PARENT_RUN_FILE, SweepRecorder
from hydra_plugins.dse_optuna_sweeper._impl import TAG_STATE
from hydra_plugins.dse_sweep.lifecycle import job_result

OBJ = [Objective("snn_accuracy", "maximize"), Objective("energy_uj", "minimize")]
AREA = [Constraint.parse("area_mm2 <= 2")]


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
    tags = {"mlflow.parentRunId": parent, "optuna_trial": str(trial), "optuna_study": "dse"}
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

    # A step per counted point from the first call; each later one-shot call (a fresh read,
    # after steps it did not write) adds one step with every point, so it never goes down.
    history = client.get_metric_history(parent, "hypervolume")
    assert [h.step for h in history] == [1, 2, 3, 4, 8, 12]
    values = [h.value for h in history]
    assert [values[3], values[4], values[5]] == pytest.approx(hv)  # each call's front
    assert values == sorted(values) and values[-1] > 0
    # a second call with nothing new adds no history point; the reference is fixed in params
    record_sweep_front(client, parent, OBJ, constraints)
    assert len(client.get_metric_history(parent, "hypervolume")) == 6
    params = client.get_run(parent).data.params
    assert set(params) == {
        "hypervolume_reference.snn_accuracy",
        "hypervolume_reference.energy_uj",
        "hypervolume_reference",  # both in one readable column
    }

    art = Path(client.download_artifacts(parent, "", str(tmp_path / "dl")))
    for name in ("png", "svg", "csv"):
        assert (art / f"pareto_front.{name}").stat().st_size > 0
    assert (art / "pareto_front.png").read_bytes()[:4] == b"\x89PNG"
    data = json.loads((art / "pareto_summary.json").read_text())
    assert len(data["front"]) == int(expect.sum())
    assert set(data["best"]) == {"snn_accuracy", "energy_uj"}
    csv_lines = (art / "pareto_front.csv").read_text().splitlines()
    # the varying param only, then the objectives
    assert csv_lines[0].startswith("trial,quantizer.bits,snn_accuracy,energy_uj,")
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


def add_batch(client, exp, parent, rng, first: int, size: int, failed: int | None = None):
    """Children of trials first..first+size-1 (random trade-offs; ``failed`` raises)."""
    ids = {}
    for t in range(first, first + size):
        if t == failed:
            ids[t] = add_child(client, exp, parent, t, 4, 0, 0, 0, status="FAILED")
        else:
            acc, energy, area = rng.random(3) * [100, 10, 3]
            ids[t] = add_child(client, exp, parent, t, 3 + t % 3, acc, energy, area)
    return ids


def assert_matches_a_fresh_read(client, parent, summary: FrontSummary) -> None:
    """What the incremental front holds and wrote equals a full re-read of MLflow."""
    fresh = record_sweep_front(client, parent, OBJ, AREA, artifacts=False)
    assert summary.points == fresh.points  # run ids, trials, params, metrics, flags
    assert summary.to_dict() == fresh.to_dict()
    assert (summary.n_children, summary.failed) == (fresh.n_children, fresh.failed)
    for p in fresh.points:
        tags = client.get_run(p.run_id).data.tags
        assert tags[TAG_PARETO] == ("true" if p.pareto else "false")
        assert tags["dse.feasible"] == ("true" if p.feasible else "false")
        assert tags["optuna_trial"] == str(p.trial)  # the run's own tags are left alone


def test_incremental_front_equals_a_fresh_record(store) -> None:
    client, exp, parent = store
    rng = np.random.default_rng(5)
    front = SweepFront.load(client, parent, OBJ, AREA)
    on_front_once: set[str] = set()
    for batch in range(5):
        ids = add_batch(client, exp, parent, rng, 4 * batch, 4, failed=4 * batch + 3)
        front.add(ids.values())
        summary = front.record(artifacts=False)
        on_front_once |= {p.run_id for p in summary.front}
        assert summary.failed == batch + 1 and summary.n_finished == 3 * (batch + 1)
    assert on_front_once - {p.run_id for p in summary.front}  # some left the front: retagged
    assert_matches_a_fresh_read(client, parent, summary)
    history = client.get_metric_history(parent, "hypervolume")
    assert [h.step for h in history] == list(range(1, 16))  # the fresh read added no step
    assert history[-1].value == pytest.approx(summary.hypervolume)
    assert [h.value for h in history] == sorted(h.value for h in history)


def _job(client, run_id: str, failed: bool = False):
    """The JobReturn of the design point that wrote ``run_id`` (toy config: its params)."""
    from hydra.core.utils import JobReturn, JobStatus

    run = client.get_run(run_id)
    ret = JobReturn(cfg=OmegaConf.create({"quantizer": {"bits": 4}, "dataset": "digits"}))
    ret.hydra_cfg = None
    if failed:
        err = RuntimeError("diverged")
        err.mlflow_run_id = run_id  # as dse.tracking.fail_design_run leaves it
        ret.status, ret._return_value = JobStatus.FAILED, err
    else:
        bits = run.data.params["quantizer.bits"]
        ret.cfg = OmegaConf.create({"quantizer": {"bits": int(bits)}, "dataset": "digits"})
        ret.status = JobStatus.COMPLETED
        ret._return_value = {**run.data.metrics, "mlflow_run_id": run_id}
    return ret


def test_recorder_reads_nothing_back_after_the_first_batch(store, tmp_path: Path, monkeypatch) -> None:  # fmt: skip
    import mlflow

    client, exp, parent = store
    (tmp_path / PARENT_RUN_FILE).write_text(parent)
    config = OmegaConf.create(
        {"tracking": {"uri": client.tracking_uri}, "hydra": {"sweep": {"dir": str(tmp_path)}}}
    )
    recorder = SweepRecorder(config, OBJ, AREA)
    rng = np.random.default_rng(7)
    reads: Counter[str] = Counter()
    per_batch = []
    for batch in range(8):
        failed = 3 * batch + 1 if batch % 2 else None  # a failed trial every other batch
        ids = add_batch(client, exp, parent, rng, 3 * batch, 3, failed)
        jobs = {t: _job(client, r, failed=t == failed) for t, r in ids.items()}
        with monkeypatch.context() as patch:  # count the recorder's reads only
            for name in ("search_runs", "get_run", "get_metric_history"):
                real = getattr(mlflow.MlflowClient, name)

                def counted(self, *args, _real=real, _name=name, **kwargs):
                    reads[_name] += 1
                    return _real(self, *args, **kwargs)

                patch.setattr(mlflow.MlflowClient, name, counted)
            reads.clear()
            for t, ret in jobs.items():
                state = "FAIL" if t == failed else "COMPLETE"
                recorder.add(job_result(ret, OBJ, AREA), trial=t, tags={TAG_STATE: state})
            summary = recorder.record()
            per_batch.append(dict(reads))
    # The first batch loads the parent, its history and its children (this batch's too);
    # after that the points come from the jobs' return values: no read at all.
    assert per_batch[0] == {"get_run": 1, "get_metric_history": 1, "search_runs": 1}
    assert per_batch[1:] == [{}] * 7
    assert summary is not None and summary.failed == 4 and summary.n_finished == 20
    assert_matches_a_fresh_read(client, parent, summary)
    runs = client.search_runs([exp], f"tags.mlflow.parentRunId = '{parent}'")
    states = Counter(r.data.tags[TAG_STATE] for r in runs)
    assert states == {"COMPLETE": 20, "FAIL": 4}
    final = recorder.finish()
    assert final.points == summary.points
    assert client.get_run(parent).info.status == "FINISHED"


def test_resumed_front_continues_the_hypervolume_history(store) -> None:
    client, exp, parent = store
    rng = np.random.default_rng(11)
    first = SweepFront.load(client, parent, OBJ, AREA)
    for batch in range(2):
        first.add(add_batch(client, exp, parent, rng, 4 * batch, 4).values())
        before = first.record(artifacts=False)
    reference = client.get_run(parent).data.params

    # A new sweeper process on the same parent run: the existing children are read once and
    # a reference given now is ignored (the stored one keeps the history comparable).
    resumed = SweepFront.load(
        client, parent, OBJ, AREA, reference={"snn_accuracy": 99.0, "energy_uj": 0.1}
    )
    assert resumed.reference == before.reference
    again = resumed.record(artifacts=False)  # nothing new: no history point, no change
    assert again.points == before.points and again.hypervolume == before.hypervolume
    resumed.add(add_batch(client, exp, parent, rng, 8, 4).values())
    after = resumed.record(artifacts=False)

    history = client.get_metric_history(parent, "hypervolume")
    assert [h.step for h in history] == list(range(1, 13))
    assert [h.value for h in history] == sorted(h.value for h in history)
    assert after.hypervolume >= before.hypervolume and after.reference == before.reference
    assert client.get_run(parent).data.params == reference
    assert_matches_a_fresh_read(client, parent, after)


def test_a_killed_writers_unrecorded_trials_get_their_tags_on_resume(store) -> None:
    """A writer killed between its trials' ends and its next record (the front is recorded
    every few seconds) left finished runs without the trial state and Pareto tags, and the
    history short of them: the next front to load the parent completes both."""
    client, exp, parent = store
    rng = np.random.default_rng(5)
    first = SweepFront.load(client, parent, OBJ, AREA)
    first.add(add_batch(client, exp, parent, rng, 0, 4).values(), tags={TAG_STATE: "COMPLETE"})
    first.record(artifacts=False)
    unrecorded = add_batch(client, exp, parent, rng, 4, 3)  # finished, then the kill

    resumed = SweepFront.load(client, parent, OBJ, AREA)
    resumed.tag_missing({r: {TAG_STATE: "COMPLETE"} for r in unrecorded.values()})
    resumed.tag_missing({r: {TAG_STATE: "FAIL"} for r in unrecorded.values()})  # held now
    summary = resumed.record(artifacts=False)
    for run_id in unrecorded.values():
        tags = client.get_run(run_id).data.tags
        assert tags[TAG_STATE] == "COMPLETE" and TAG_PARETO in tags and "dse.feasible" in tags
    history = client.get_metric_history(parent, "hypervolume")
    assert [h.step for h in history] == [1, 2, 3, 4, 7]  # the three in one step
    assert history[-1].value == pytest.approx(summary.hypervolume)
    assert_matches_a_fresh_read(client, parent, summary)
