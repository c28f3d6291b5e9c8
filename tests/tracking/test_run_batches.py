"""A design point's run written in as few calls as MLflow's limits allow, losing nothing."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from dse.tracking import runs as tracking


def test_params_metrics_and_tags_beyond_one_batch_all_arrive(tmp_path: Path) -> None:
    """MLflow takes 100 params, 100 tags and 1000 entries per call: a run with more of each
    (an out-of-tree plugin's large config) gets every one, in its last write."""
    client = tracking.connect(f"sqlite:///{tmp_path}/mlflow.db")
    exp = tracking.experiment_id(client, "batches")
    cfg = OmegaConf.create({"tracking": {"tags": {}}})
    run_id = tracking.start_design_run(client, exp, cfg, {}, "big", None, log_params=False)
    assert client.get_run(run_id).data.params == {}  # params wait for the run's end
    params = {f"plugin.key{i}": str(i) for i in range(250)}
    metrics = {f"m{i}": float(i) for i in range(1200)}
    tags = {f"t{i}": str(i) for i in range(130)}
    tracking.finish_design_run(client, run_id, metrics, tags, params=params)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params == params
    assert run.data.metrics == metrics
    assert {k: v for k, v in run.data.tags.items() if k.startswith("t")} == tags


def test_a_failed_run_keeps_its_params(tmp_path: Path) -> None:
    client = tracking.connect(f"sqlite:///{tmp_path}/mlflow.db")
    exp = tracking.experiment_id(client, "failed")
    cfg = OmegaConf.create({"tracking": {"tags": {}}})
    run_id = tracking.start_design_run(client, exp, cfg, {}, "boom", None, log_params=False)
    tracking.fail_design_run(client, run_id, RuntimeError("diverged"), {"quantizer.bits": "4"})
    run = client.get_run(run_id)
    assert run.info.status == "FAILED" and run.data.params == {"quantizer.bits": "4"}
    assert run.data.tags["dse.error"] == "RuntimeError: diverged"
