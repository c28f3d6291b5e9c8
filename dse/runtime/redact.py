"""Passwords never recorded: URLs with credentials are written with the password masked.

A storage or tracking URL such as ``postgresql+psycopg2://dse:hunter2@db/optuna`` reaches
tags, params, saved configs and log lines; everything ``dse`` records passes through
:func:`redact`. Better still, keep the password out of the URL: libpq reads ``PGPASSWORD``
and ``~/.pgpass``, MLflow's client ``MLFLOW_TRACKING_PASSWORD`` (docs/SCALING.md).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

MASK = "***"
# scheme://user:password@host  (the user part may be empty: scheme://:password@host), also
# as Hydra escapes an override's colons: scheme\://user\:password@host
_CREDENTIALS = re.compile(
    r"(?P<head>\b[a-zA-Z][\w+.-]*\\?://[^\s:/@\\]*\\?:)(?P<password>[^\s@/]+)(?=@)"
)


def redact(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***``."""
    return _CREDENTIALS.sub(lambda m: m.group("head") + MASK, text)


def redact_values(value: Any) -> Any:
    """A plain container (dicts, lists, strings) with every string redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_values(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact_values(v) for v in value)
    return value


def redact_file(path: Path) -> None:
    """Rewrite ``path`` with its passwords masked, when it has any (atomically: a reader
    sees the old file or the new one). Hydra writes the command line and the resolved
    config (``.hydra/*.yaml``, ``multirun.yaml``) before a job starts; the job calls this
    on them first thing."""
    try:
        text = path.read_text()
    except (FileNotFoundError, IsADirectoryError, UnicodeDecodeError):
        return
    masked = redact(text)
    if masked == text:
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(masked)
    os.replace(tmp, path)
