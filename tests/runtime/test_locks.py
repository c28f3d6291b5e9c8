"""study_lock serialises processes: intervals inside the lock never overlap."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import pytest

from dse.api.errors import TrackingError
from dse.runtime.locks import lock_file, storage_file, study_lock


def _hold(storage: str, log: str, tag: int) -> None:
    with study_lock(storage, "front"):
        with open(log, "a") as out:
            out.write(f"{tag} in {time.monotonic()}\n")
        time.sleep(0.2)
        with open(log, "a") as out:
            out.write(f"{tag} out {time.monotonic()}\n")


def assert_serialised(storage: str, log: Path, workers: int = 3) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_hold, args=(storage, str(log), i)) for i in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    events = [line.split() for line in log.read_text().splitlines()]
    assert len(events) == 2 * workers
    # in, out, in, out, ...: each holder leaves before the next one enters
    assert [e[1] for e in events] == ["in", "out"] * workers
    assert all(events[i][0] == events[i + 1][0] for i in range(0, len(events), 2))


@pytest.mark.parametrize("kind", ["journal", "sqlite"])
def test_file_storages_are_locked_across_processes(tmp_path: Path, kind: str) -> None:
    storage = (
        str(tmp_path / "optuna.journal") if kind == "journal" else f"sqlite:///{tmp_path}/o.db"
    )
    assert_serialised(storage, tmp_path / "events.log")
    lock = lock_file(storage_file(storage))
    assert lock.exists() and lock.name.endswith(".dse-lock")  # Optuna's journal owns *.lock


def test_a_lock_not_freed_in_time_is_one_clear_error(tmp_path: Path) -> None:
    storage = str(tmp_path / "optuna.journal")
    with study_lock(storage, "front"):
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(1) as pool:
            message = pool.apply(_try_briefly, (storage,))
    assert "stayed locked" in message and "another dse process" in message


def _try_briefly(storage: str) -> str:
    try:
        with study_lock(storage, "front", timeout_s=0.3):
            return "acquired"
    except TrackingError as err:
        return str(err)


def test_postgres_storages_are_locked_across_processes(tmp_path: Path, postgres_url: str) -> None:
    assert_serialised(postgres_url, tmp_path / "events.log")
