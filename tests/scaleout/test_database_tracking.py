"""MLflow tracking straight into a database (no server): artifacts under paths.outputs,
never the working directory; the printed browse command works and shows no password."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.services import run_dse

pytestmark = pytest.mark.slow


def test_a_design_point_tracked_in_postgresql(tmp_path: Path, postgres_url: str) -> None:
    from mlflow import MlflowClient

    work, out = tmp_path / "work", tmp_path / "out"
    work.mkdir()
    uri = postgres_url.replace("://dse@", "://dse:pw-masked@")  # trust auth ignores it
    done = run_dse(
        ["training.epochs=1", f"tracking.uri={uri}", f"paths.outputs={out}"],
        work,
        {"OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "pw-masked" not in done.stdout + done.stderr
    assert (
        f"mlflow ui --backend-store-uri {postgres_url.replace('://dse@', '://dse:***@')}"
        in done.stdout
    )
    assert not (work / "mlruns").exists() and not list(work.iterdir())
    client = MlflowClient(tracking_uri=postgres_url)
    (run,) = client.search_runs([client.get_experiment_by_name("snn-dse").experiment_id])
    assert run.info.artifact_uri.startswith((out / "mlartifacts").resolve().as_uri())
    assert {a.path for a in client.list_artifacts(run.info.run_id)} >= {"config.yaml"}
    assert "pw-masked" not in run.data.params.get("tracking.uri", "")
