"""Workers sharing a stage cache compute an entry once; clear() takes the lock files too."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

from dse.point.cache import LOCKS, StageCache


def _worker(root: str, key: str, log: str) -> None:
    cache = StageCache(root)
    with cache.computing("training", key):
        if cache.get("training", key) is None:
            time.sleep(0.5)  # the training
            cache.put("training", key, b"weights")
            outcome = "computed"
        else:
            outcome = "loaded"
    with open(log, "a") as out:
        out.write(outcome + "\n")


def test_an_entry_is_computed_once_by_workers_starting_together(tmp_path: Path) -> None:
    key, log = "ab" * 32, tmp_path / "outcomes.log"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(str(tmp_path), key, str(log))) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert sorted(log.read_text().split()) == ["computed", "loaded", "loaded"]


def test_a_waiter_computes_itself_after_the_timeout(tmp_path: Path) -> None:
    cache, key = StageCache(tmp_path), "cd" * 32
    ctx = multiprocessing.get_context("spawn")
    ready = tmp_path / "holding"
    holder = ctx.Process(target=_hold, args=(str(tmp_path), key, str(ready)))
    holder.start()
    deadline = time.monotonic() + 60  # a spawned child takes seconds on a loaded machine
    while not ready.exists():  # until the holder has the lock (a stuck worker)
        assert holder.is_alive() and time.monotonic() < deadline
        time.sleep(0.05)
    started = time.monotonic()
    with cache.computing("training", key, timeout_s=0.5):
        waited = time.monotonic() - started
    holder.terminate()
    holder.join()
    assert 0.4 < waited < 5


def _hold(root: str, key: str, ready: str) -> None:
    with StageCache(root).computing("training", key):
        Path(ready).touch()
        time.sleep(60)


def test_clear_removes_lock_files_and_nothing_foreign(tmp_path: Path) -> None:
    cache, key = StageCache(tmp_path / "cache"), "ef" * 32
    with cache.computing("training", key):
        cache.put("training", key, b"weights")
    assert (tmp_path / "cache" / LOCKS / f"training-{key}.lock").is_file()
    assert cache.clear() == {"training": 1}
    assert not (tmp_path / "cache").exists()
