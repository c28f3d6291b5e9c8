"""A content-addressed cache of stage results, shared by trials and processes.

An entry's key is a stable hash of exactly the configuration that reaches its stage plus
a fingerprint of the code of the plugins involved, so a changed setting or a changed
plugin never reuses a stale result. Hardware parameters never reach the training or
simulation stages, so a sweep over them reuses both and only re-prices.

File format: one file per entry, ``<sha256 of payload>\\n<payload>``. Writes go to a
temporary file renamed into place (atomic on POSIX), so parallel workers writing the same
key both leave one valid entry; a truncated or corrupt entry fails its checksum and is
removed and rebuilt.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dse.runtime.locks import file_lock

log = logging.getLogger(__name__)


def stable_hash(data: Any) -> str:
    """SHA-256 of a JSON-serialisable value with sorted keys (order-independent dicts)."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def code_fingerprint(obj: object) -> str:
    """Hash of the source of the package (or module) that defines ``obj``'s class.

    The whole package directory is hashed because plugins keep helpers in private
    sibling modules (``plugins/codings/_common.py``): a change there must invalidate too.
    """
    module = sys.modules.get(type(obj).__module__)
    source = getattr(module, "__file__", None)
    return "unknown" if source is None else _source_hash(source)


@functools.cache  # a process runs the code it loaded: hash it once, not on every key
def _source_hash(source: str) -> str:
    path = Path(source)
    files = (
        sorted(path.parent.glob("*.py")) if path.parent.joinpath("__init__.py").exists() else [path]
    )
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


# The dse modules whose code decides what a training or a simulation produces. Reporting,
# tracking, pricing and the command line are left out: editing them keeps cached stages.
STAGE_MODULES = (
    "api/architecture.py",
    "api/coding.py",
    "api/data.py",
    "api/interfaces.py",
    "api/network.py",
    "point/pipeline.py",
    "api/workload.py",
)


@functools.cache
def core_fingerprint(folder: Path | None = None) -> str:
    """Hash of the core modules the cached stages run (``STAGE_MODULES`` of ``folder``,
    by default the ``dse`` package's)."""
    folder = Path(__file__).resolve().parents[1] if folder is None else folder
    digest = hashlib.sha256()
    for name in STAGE_MODULES:
        digest.update(name.encode())
        digest.update((folder / name).read_bytes())
    return digest.hexdigest()[:16]


MARKER = ".dse-stage-cache"  # in the root: this folder is a stage cache (clear() needs it)
_MARKER_TEXT = "snn-dse stage cache: <stage>/<key> files, each '<sha256>\\n<payload>'\n"
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_ENTRY_HEAD = re.compile(rb"^[0-9a-f]{64}\n")
_TEMP_NAME = re.compile(r"^\..+\.tmp$")  # put()'s temporary file, left by a killed writer
LOCKS = ".locks"  # computing()'s lock files, one per entry being computed
_LOCK_NAME = re.compile(r"^[a-z][a-z0-9_]*-[0-9a-f]+\.lock$")
# How long a worker waits for another to compute an entry it needs (a CIFAR-scale training
# takes hours: past this, it computes the entry itself rather than stall the sweep).
COMPUTE_WAIT_S = 6 * 3600.0


class StageCache:
    """Stores bytes under ``<root>/<stage>/<key>``; ``enabled=False`` stores nothing.

    The root holds a marker file (``.dse-stage-cache``) written with the first entry, so
    :meth:`clear` deletes a folder only when it is one of ours and holds nothing else.
    """

    def __init__(self, root: str | Path, enabled: bool = True) -> None:
        self.root = Path(root)
        self.enabled = enabled

    def _path(self, stage: str, key: str) -> Path:
        return self.root / stage / key

    def get(self, stage: str, key: str) -> bytes | None:
        if not self.enabled:
            return None
        path = self._path(stage, key)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        digest, sep, payload = raw.partition(b"\n")
        if not sep or hashlib.sha256(payload).hexdigest().encode() != digest:
            log.warning(
                "cache: %s entry %s is corrupt; removing it and recomputing", stage, key[:12]
            )
            path.unlink(missing_ok=True)
            return None
        return payload

    @contextlib.contextmanager
    def computing(self, stage: str, key: str, timeout_s: float = COMPUTE_WAIT_S) -> Iterator[None]:
        """Hold the right to compute one entry, so workers sharing this folder compute it
        once: the others wait here, then find it stored. A waiter that waited
        ``timeout_s`` computes it itself (a stuck or very slow holder never stops a sweep)."""
        if not self.enabled:
            yield
            return
        lock = self.root / LOCKS / f"{stage}-{key}.lock"
        started = time.monotonic()
        with file_lock(lock, 0.0) as free:
            if free:
                yield
                return
        log.info("%s %s: another worker computes it; waiting for it", stage, key[:12])
        with file_lock(lock, max(0.0, timeout_s - (time.monotonic() - started))) as acquired:
            if not acquired:
                log.warning(
                    "%s %s: waited %.0f s for another worker; computing it here too",
                    stage,
                    key[:12],
                    timeout_s,
                )
            yield

    def keys(self, stage: str) -> list[str]:
        """The keys stored under ``stage`` (in-flight writes excluded), sorted."""
        folder = self.root / stage
        if not self.enabled or not folder.is_dir():
            return []
        return sorted(
            p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
        )

    def remove(self, stage: str, key: str) -> None:
        """Forget one entry (a reader found its content unusable)."""
        self._path(stage, key).unlink(missing_ok=True)

    def put(self, stage: str, key: str, payload: bytes) -> None:
        if not self.enabled:
            return
        path = self._path(stage, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        marker = self.root / MARKER  # a stat per put (which fsyncs): cheap, and survives clear()
        if not marker.exists():  # workers filling a fresh folder together: one whole marker
            # (written beside the entry, where clear() takes a killed writer's temp file)
            fd, marker_tmp = tempfile.mkstemp(dir=path.parent, prefix=".marker.", suffix=".tmp")
            with os.fdopen(fd, "w") as handle:
                handle.write(_MARKER_TEXT)
            os.replace(marker_tmp, marker)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{key[:12]}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def clear(self) -> dict[str, int]:
        """Delete every entry; returns how many per stage.

        Refuses (ConfigError, nothing deleted) a folder without the marker, or holding
        anything that is not an entry (a ``<sha256>\\n`` file in a stage folder) or a
        temporary file of :meth:`put`: a mistyped ``cache.dir`` never deletes someone's data.
        """
        from dse.api.errors import ConfigError

        root = self.root
        if not root.exists() and not root.is_symlink():
            return {}
        if root.is_symlink() or not root.is_dir():
            raise ConfigError(f"cache.dir={root} is not a folder: nothing deleted")
        if not (root / MARKER).is_file():
            raise ConfigError(
                f"cache.dir={root} has no {MARKER} marker, so it is not a stage cache this "
                "program wrote: nothing deleted (remove it yourself if it is one)"
            )
        entries: dict[str, list[Path]] = {}
        foreign: list[Path] = []
        locks: list[Path] = []
        for item in sorted(root.iterdir()):
            if item.name == MARKER and item.is_file() and not item.is_symlink():
                continue
            if item.name == LOCKS and item.is_dir() and not item.is_symlink():
                for f in sorted(item.iterdir()):
                    ours = f.is_file() and not f.is_symlink() and _LOCK_NAME.match(f.name)
                    (locks if ours else foreign).append(f)
                continue
            if item.is_symlink() or not item.is_dir() or not _STAGE_NAME.match(item.name):
                foreign.append(item)
                continue
            for f in sorted(item.iterdir()):
                if (
                    f.is_file()
                    and not f.is_symlink()
                    and (_TEMP_NAME.match(f.name) or _LOCK_NAME.match(f.name))
                ):
                    entries.setdefault(item.name, []).append(f)
                elif _is_entry(f):
                    entries.setdefault(item.name, []).append(f)
                else:
                    foreign.append(f)
        if foreign:
            shown = ", ".join(str(f.relative_to(root)) for f in foreign[:3])
            more = f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
            raise ConfigError(
                f"cache.dir={root} holds files that are not cache entries ({shown}{more}): "
                "nothing deleted; point cache.dir at the cache folder itself"
            )
        counts = {}
        for stage, files in entries.items():
            for f in files:
                f.unlink(missing_ok=True)
            counts[stage] = sum(not _TEMP_NAME.match(f.name) for f in files)
        for f in locks:
            f.unlink(missing_ok=True)
        (root / MARKER).unlink()
        for folder in [*(root / stage for stage in entries), root / LOCKS, root]:
            try:
                folder.rmdir()
            except OSError:  # a writer added an entry meanwhile: it stays, and so does its folder
                pass
        return counts


def _is_entry(path: Path) -> bool:
    """A regular file that starts like an entry: 64 hex digits (its checksum), a newline."""
    if path.is_symlink() or not path.is_file():
        return False
    with open(path, "rb") as f:
        return _ENTRY_HEAD.match(f.read(65)) is not None
