"""One process at a time per study: a lock that workers on other processes (and, with a
database, other machines) respect.

Creating a study's tables, its MLflow parent run and writing its front must happen once,
whoever starts first, and so must creating MLflow's own tables in a fresh store.
:func:`study_lock` (:func:`store_lock` for any store) serialises such steps on the store:

* a journal file or SQLite database: an exclusive ``flock`` on ``<file>.dse-lock`` beside
  it, for processes on one machine or a file system with working locks (not
  ``<file>.lock``: Optuna's journal takes that name for its own lock);
* PostgreSQL: a session-level advisory lock (``pg_advisory_lock``), held on a connection
  of its own, so workers on several machines queue on the database itself.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

from dse.api.errors import TrackingError


def _lock_key(name: str) -> int:
    """A signed 64-bit advisory-lock key for ``name``."""
    return int.from_bytes(
        hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True
    )


def storage_file(storage: str) -> Path | None:
    """The file behind a journal path or ``sqlite:///`` URL; None for a server database."""
    if storage.startswith("sqlite:///"):
        return Path(storage[len("sqlite:///") :])
    if "://" not in storage:
        return Path(storage)
    return None


def lock_file(storage_path: Path) -> Path:
    """The lock file :func:`study_lock` uses beside a journal or SQLite file."""
    return storage_path.with_name(storage_path.name + ".dse-lock")


@contextlib.contextmanager
def study_lock(storage: str, name: str, timeout_s: float = 600.0) -> Iterator[None]:
    """Hold the lock ``name`` of the study stored at ``storage`` (a journal path or a
    database URL) for the block; TrackingError when it is not free within ``timeout_s``."""
    with store_lock(storage, name, timeout_s):
        yield


@contextlib.contextmanager
def store_lock(storage: str, name: str, timeout_s: float = 600.0) -> Iterator[None]:
    """Hold the lock ``name`` on the store at ``storage`` (a file path, ``sqlite:///`` or a
    database URL; an ``http://`` server or another database: no lock, the store serialises
    itself) for the block. Keyed on the store: workers creating the same store (MLflow's
    tables in a fresh database, a new journal) queue; workers on different stores never
    wait on each other. TrackingError when it is not free within ``timeout_s``; OSError
    when a lock file cannot be made beside the store."""
    path = storage_file(storage)
    if path is not None:
        with _file_lock(lock_file(path), timeout_s):
            yield
    elif storage.split(":", 1)[0].split("+", 1)[0] == "postgresql":
        with _advisory_lock(storage, _lock_key(name), timeout_s):
            yield
    else:  # another database: its own transactions are all we have
        yield


@contextlib.contextmanager
def file_lock(path: Path, timeout_s: float) -> Iterator[bool]:
    """An exclusive ``flock`` on ``path`` (created if missing) for the block; yields
    whether it was acquired within ``timeout_s`` (False: the block runs without it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        deadline = time.monotonic() + timeout_s
        acquired = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                acquired = True
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.05)
        try:
            yield acquired
        finally:
            if acquired:
                fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def _file_lock(path: Path, timeout_s: float) -> Iterator[None]:
    with file_lock(path, timeout_s) as acquired:
        if not acquired:
            raise TrackingError(
                f"{path} stayed locked for {timeout_s:.0f} s: another dse process holds it "
                "(if none runs, delete the file)"
            )
        yield


@contextlib.contextmanager
def _advisory_lock(url: str, key: int, timeout_s: float) -> Iterator[None]:
    import sqlalchemy as sa

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            deadline = time.monotonic() + timeout_s
            while not conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
                if time.monotonic() > deadline:
                    raise TrackingError(
                        f"the study's lock in its database stayed taken for {timeout_s:.0f} s"
                    )
                time.sleep(0.05)
            try:
                yield
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
    finally:
        engine.dispose()
