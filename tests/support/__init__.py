"""Helpers shared across test folders: ``services`` (the real ``dse`` command, PostgreSQL
databases, an MLflow server), ``hardware`` (hand-sized workloads and a toy technology),
``datasets`` (fake files in the published formats), ``broken_plugins`` and
``faulty_plugins`` (deliberately wrong plugins)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONF_DIR = REPO / "conf"
