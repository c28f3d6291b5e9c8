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

import functools
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

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
    "architecture.py",
    "coding.py",
    "data.py",
    "interfaces.py",
    "network.py",
    "pipeline.py",
    "workload.py",
)


@functools.cache
def core_fingerprint(folder: Path | None = None) -> str:
    """Hash of the core modules the cached stages run (``STAGE_MODULES`` of ``folder``,
    by default this package's)."""
    folder = Path(__file__).resolve().parent if folder is None else folder
    digest = hashlib.sha256()
    for name in STAGE_MODULES:
        digest.update(name.encode())
        digest.update((folder / name).read_bytes())
    return digest.hexdigest()[:16]


class StageCache:
    """Stores bytes under ``<root>/<stage>/<key>``; ``enabled=False`` stores nothing."""

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

    def remove(self, stage: str, key: str) -> None:
        """Forget one entry (a reader found its content unusable)."""
        self._path(stage, key).unlink(missing_ok=True)

    def put(self, stage: str, key: str, payload: bytes) -> None:
        if not self.enabled:
            return
        path = self._path(stage, key)
        path.parent.mkdir(parents=True, exist_ok=True)
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

    def clear(self) -> int:
        """Remove every entry; returns how many were removed."""
        if not self.root.exists():
            return 0
        count = sum(1 for p in self.root.rglob("*") if p.is_file())
        shutil.rmtree(self.root)
        return count
