"""Taking a design out: a grid's front networks logged as MLflow PyTorch models, loaded in
a fresh process, and `dse export`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.services import run_dse

pytestmark = pytest.mark.slow

# A fresh interpreter: mlflow.pytorch.load_model, then the test split the run was scored on.
LOAD = textwrap.dedent(
    """
    import sys, yaml, mlflow.pytorch, torch
    from hydra.utils import instantiate
    model = mlflow.pytorch.load_model(sys.argv[1])
    cfg = yaml.safe_load(open(sys.argv[2]))
    test = instantiate(cfg["dataset"]).load().test
    with torch.no_grad():
        right = sum(int((model(x).argmax(1) == y).sum())
                    for x, y in zip(test.x.split(512), test.y.split(512)))
    print(repr(100.0 * right / len(test)))
    """
)


def test_front_networks_load_in_a_fresh_process_and_reproduce_their_accuracy(
    tmp_path: Path,
) -> None:
    import mlflow

    out = tmp_path / "outputs"
    done = run_dse(
        ["-m", "quantizer.bits=3,5", "training.epochs=1", "coding.time_window=4",
         f"paths.outputs={out}"],
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Front networks logged as MLflow models on" in done.stdout
    uri = f"sqlite:///{out}/mlflow.db"
    client = mlflow.MlflowClient(uri)
    exp = client.get_experiment_by_name("snn-dse").experiment_id
    runs = client.search_runs([exp], "tags.`dse.pareto_optimal` = 'true'")
    assert runs
    run = runs[0]
    run_id = run.info.run_id
    assert run.data.tags["dse.logged_model"] == f"runs:/{run_id}/model"
    names = {a.path for a in client.list_artifacts(run_id, "model")}
    assert {"model/MLmodel", "model/weights.pt", "model/input_example.json"} <= names
    assert {"config.yaml", "hardware_breakdown.csv"} <= {
        a.path for a in client.list_artifacts(run_id)
    }
    (parent,) = client.search_runs([exp], "tags.`dse.kind` = 'sweep'")
    assert parent.data.metrics["front_models_bytes"] > 0

    # a fresh process loads runs:/<id>/model and scores exactly what the run recorded
    config = client.download_artifacts(run_id, "config.yaml", str(tmp_path))
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    proc = subprocess.run(
        [sys.executable, "-c", LOAD, f"runs:/{run_id}/model", config],
        capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    accuracy = float(proc.stdout.strip().splitlines()[-1])
    assert accuracy == run.data.metrics["test_ann_accuracy"]
    assert accuracy == run.data.metrics["model_test_accuracy"]
    if run.data.metrics["test_conversion_loss"] == 0:  # CAT: the SNN computes the same function
        assert accuracy == run.data.metrics["test_snn_accuracy"]

    # dse export: the same bundle in a folder; a run off the front is built from the cache
    others = client.search_runs([exp], "tags.`dse.pareto_optimal` = 'false'")
    for target in [run, *others[:1]]:
        folder = tmp_path / f"export-{target.info.run_id}"
        done = run_dse(["export", target.info.run_id, str(folder), "--tracking-uri", uri],
                       cwd=tmp_path)  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        for name in ("model/MLmodel", "model/weights.pt", "config.yaml", "run.json",
                     "hardware_breakdown.csv"):  # fmt: skip
            assert (folder / name).is_file(), name
        info = json.loads((folder / "run.json").read_text())
        assert info["run_id"] == target.info.run_id
    # weights.pt is data only: torch's safe loader reads it
    import torch

    state = torch.load(tmp_path / f"export-{run_id}" / "model" / "weights.pt", weights_only=True)
    assert any(k.endswith("weight") for k in state)
