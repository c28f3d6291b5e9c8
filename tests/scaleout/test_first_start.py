"""Many workers, first start: three workers started in the same instant on fresh stores, for
every mix of study storage (journal file, PostgreSQL) and MLflow store (SQLite, PostgreSQL
used directly, an ``mlflow server``). Each store is created once, under a lock keyed on it
(dse/runtime/locks.py): no worker loses its trials to a table-creation race.

The PostgreSQL URLs here are plain ``postgresql://`` ones, as users copy them from their
database's docs (psycopg 3 under SQLAlchemy 2: the ``postgres`` extra ships it).

``DSE_FIRST_START_REPEATS=5 pytest tests/scaleout/test_first_start.py -k direct`` repeats
the cells with MLflow straight in PostgreSQL (the race this test was written for)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.services import fresh_database, mlflow_server_at

pytestmark = pytest.mark.slow

DSE = str(Path(sys.executable).parent / "dse")
SMALL = ["training.pretrain.epochs=3", "training.epochs=1", "dataset.val_fraction=0.15"]
WORKERS, TRIALS = 3, 6
REPEATS = int(os.environ.get("DSE_FIRST_START_REPEATS", "1"))


def plain(url: str) -> str:
    """``postgresql://...``: the form users copy, whatever driver the test cluster's URL names."""
    scheme, rest = url.split("://", 1)
    return f"{scheme.split('+', 1)[0]}://{rest}"


@contextlib.contextmanager
def study_store(kind: str, shared: Path) -> Iterator[str]:
    if kind == "journal":
        yield str(shared / "study" / "optuna.journal")  # folder not there yet: fresh
    else:
        with fresh_database() as url:
            yield plain(url)


@contextlib.contextmanager
def tracking_store(kind: str, shared: Path, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{shared / 'mlflow' / 'mlflow.db'}"  # folder not there yet: fresh
    elif kind == "postgresql-direct":
        with fresh_database() as url:
            yield plain(url)
    else:  # an mlflow server on a fresh database (it creates its tables when it starts)
        with fresh_database() as url:
            yield from mlflow_server_at(url, tmp_path)


def load_study(storage: str):
    import optuna

    if "://" not in storage:
        storage = optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(storage)
        )
    return optuna.load_study(study_name="pareto_digits", storage=storage)


@pytest.mark.parametrize("repeat", range(REPEATS))
@pytest.mark.parametrize("tracking", ["sqlite", "postgresql-direct", "server"])
@pytest.mark.parametrize("storage", ["journal", "postgresql"])
def test_workers_started_together_on_fresh_stores(
    tmp_path: Path, storage: str, tracking: str, repeat: int
) -> None:
    import optuna
    from mlflow import MlflowClient

    shared = tmp_path / "shared"
    with (
        study_store(storage, shared) as study_at,
        tracking_store(tracking, shared, tmp_path) as uri,
    ):
        started = time.monotonic()
        workers = []
        for i in range(WORKERS):  # Popen returns in milliseconds: all three import together
            folder = tmp_path / f"worker{i}"
            folder.mkdir()
            workers.append(
                subprocess.Popen(
                    [DSE, "-m", "experiment=pareto_digits", f"hydra.sweeper.n_trials={TRIALS}"]
                    + [f"hydra.sweeper.storage={study_at}", f"tracking.uri={uri}"]
                    + [f"paths.outputs={folder / 'outputs'}", f"cache.dir={shared / 'cache'}"]
                    + ["threads=1", *SMALL],
                    cwd=folder,
                    env={**os.environ, "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"},
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
            )
        outs = [w.communicate(timeout=900)[0] for w in workers]
        print(f"{storage} x {tracking}: {time.monotonic() - started:.1f} s")
        for w, out in zip(workers, outs, strict=True):
            assert w.returncode == 0, out[-4000:]
            assert "Traceback" not in out, out[-4000:]
            assert f"{TRIALS} of {TRIALS} new trials complete" in out, out[-3000:]

        study = load_study(study_at)
        states = [t.state for t in study.trials]
        assert states.count(optuna.trial.TrialState.COMPLETE) == WORKERS * TRIALS, states
        points = [tuple(sorted(t.params.items())) for t in study.trials]
        assert len(set(points)) == len(points), "workers drew the same design point"

        client = MlflowClient(tracking_uri=uri)
        exp = client.get_experiment_by_name("snn-dse").experiment_id
        runs = client.search_runs([exp], max_results=1000)
        parents = [r for r in runs if r.data.tags.get("dse.kind") == "sweep"]
        assert len(parents) == 1, [r.info.run_name for r in parents]
        (parent,) = parents
        children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
        assert len(children) == WORKERS * TRIALS, len(children)
        assert all(r.info.status == "FINISHED" for r in children)
        assert parent.info.status == "FINISHED"
        on_front = {
            int(r.data.tags["optuna_trial"])
            for r in children
            if r.data.tags.get("dse.pareto_optimal") == "true"
        }
        assert on_front == {t.number for t in study.best_trials}
        if tracking == "sqlite":
            from dse.runtime.adapters.mlflow import store_engine

            store_engine(client).dispose()  # release the file before cleanup
