"""`dse-front compare` on two small sweeps (the toy app: real Optuna and MLflow stores)."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from dse.cli.front import main
from tests.support.toy_sweep import APP, CONFIG


def sweep(tmp_path: Path, out: Path, study: str, seed: int) -> None:
    conf = tmp_path / "conf"
    conf.mkdir(exist_ok=True)
    (conf / "config.yaml").write_text(CONFIG.format(out=out))
    cmd = [
        sys.executable, str(APP), "--config-dir", str(conf), "-m",
        f"hydra.sweeper.study_name={study}", f"hydra.sweeper.sampler.seed={seed}",
    ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_compare_two_sweeps_plots_both_fronts_and_links_both_parents(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    import mlflow

    out = tmp_path / "outputs"
    sweep(tmp_path, out, "alpha", 0)
    sweep(tmp_path, out, "beta", 1)
    uri = f"sqlite:///{out}/mlflow.db"
    client = mlflow.MlflowClient(uri)
    exp = client.get_experiment_by_name("toy").experiment_id
    parents = {r.info.run_name: r.info.run_id for r in client.search_runs([exp])
               if r.data.tags.get("dse.kind") == "sweep"}  # fmt: skip
    assert set(parents) == {"sweep-alpha", "sweep-beta"}

    # one by study name, one by parent run id
    with pytest.raises(SystemExit) as done:
        main(["compare", "alpha", parents["sweep-beta"], "--tracking-uri", uri,
              "--out", str(tmp_path / "cmp")])  # fmt: skip
    assert done.value.code == 0
    printed = capsys.readouterr().out
    assert "Which front dominates where" in printed and "Recorded as MLflow run" in printed

    (run,) = client.search_runs([exp], "tags.`dse.kind` = 'comparison'")
    tags = run.data.tags
    assert tags["dse.compared.0"] == parents["sweep-alpha"]
    assert tags["dse.compared.1"] == parents["sweep-beta"]
    for parent in parents.values():  # the description links each parent run
        assert f"#/experiments/{exp}/runs/{parent}" in tags["mlflow.note.content"]
    art = Path(client.download_artifacts(run.info.run_id, "", str(tmp_path / "dl")))
    assert (art / "fronts.png").read_bytes()[:4] == b"\x89PNG"
    rows = list(csv.DictReader((art / "fronts.csv").open()))
    fronts = {}
    for parent in parents.values():
        fronts[parent] = {
            r.info.run_id
            for r in client.search_runs(
                [exp],
                f"tags.mlflow.parentRunId = '{parent}' and tags.`dse.pareto_optimal` = 'true'",
            )
        }
        assert fronts[parent]  # each sweep has a front, and the CSV holds all of it
        assert {r["run_id"] for r in rows if r["parent_run_id"] == parent} == fronts[parent]
    assert {r["sweep"] for r in rows} == {"alpha", "beta"}
    assert (tmp_path / "cmp" / "dominance.csv").exists()

    # an unknown sweep is one error line
    with pytest.raises(SystemExit, match="error: sweep 'gamma': no parent run named"):
        main(["compare", "alpha", "gamma", "--tracking-uri", uri, "--no-record"])
