"""A password typed on the command line (``tracking.uri=postgresql://u:secret@...``,
``hydra.sweeper.storage=...``) is written to no file under the outputs folder: not our
records, not Hydra's own copies of the command line and config (``.hydra/``,
``multirun.yaml``), after a single run and after a sweep. The URLs are plain
``postgresql://`` ones (psycopg 3, shipped by the ``postgres`` extra)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.services import fresh_database, run_dse

pytestmark = pytest.mark.slow

SECRET = "pw-typed-on-the-command-line"
SMALL = ["training.pretrain.epochs=2", "training.epochs=1", "dataset.val_fraction=0.15"]
ENV = {"OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"}


def with_password(url: str) -> str:
    """The test cluster's URL as a user types it: plain scheme, password in it (trust
    authentication ignores the password: it is there to be kept out of every file)."""
    scheme, rest = url.split("://", 1)
    assert rest.startswith("dse@"), url
    return f"{scheme.split('+', 1)[0]}://dse:{SECRET}@{rest[len('dse@') :]}"


def files_holding_the_password(folder: Path) -> list[Path]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert files, folder
    return [p for p in files if SECRET.encode() in p.read_bytes()]


def test_a_single_run_writes_no_password(tmp_path: Path) -> None:
    from mlflow import MlflowClient

    out = tmp_path / "out"
    with fresh_database() as tracking:
        uri = with_password(tracking)
        assert uri.startswith("postgresql://")
        done = run_dse(
            ["training.epochs=1", f"tracking.uri={uri}", f"paths.outputs={out}"], tmp_path, ENV
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert SECRET not in done.stdout + done.stderr
        assert list(out.rglob(".hydra/overrides.yaml")), "Hydra wrote its files"
        assert files_holding_the_password(out) == []
        client = MlflowClient(tracking_uri=uri)  # the plain URL serves a client too
        (run,) = client.search_runs([client.get_experiment_by_name("snn-dse").experiment_id])
        assert run.info.status == "FINISHED"


def test_a_sweep_writes_no_password(tmp_path: Path) -> None:
    import optuna

    out = tmp_path / "out"
    with fresh_database() as study_db, fresh_database() as tracking_db:
        storage, uri = with_password(study_db), with_password(tracking_db)
        done = run_dse(
            ["-m", "experiment=pareto_digits", "hydra.sweeper.n_trials=2"]
            + [f"hydra.sweeper.storage={storage}", f"tracking.uri={uri}"]
            + [f"paths.outputs={out}", "hydra.output_subdir=.hydra", *SMALL],
            tmp_path,
            ENV,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert "2 of 2 new trials complete" in done.stdout
        assert SECRET not in done.stdout + done.stderr
        assert list(out.rglob("multirun.yaml")) and list(out.rglob(".hydra/config.yaml"))
        assert files_holding_the_password(out) == []
        study = optuna.load_study(study_name="pareto_digits", storage=storage)
        assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE"]
