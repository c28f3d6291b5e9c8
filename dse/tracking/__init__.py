"""MLflow recording: the store's connection and first start, a child run per design point,
a parent run per sweep, and the front's one writer (``SweepRecorder``). The code lives in
``dse/tracking/runs.py``; ``dse.tracking.SweepCallback`` (named in conf/config.yaml) and
every other name of it stay reachable here. Imports ``dse.api``, ``dse.runtime`` and
``dse.front``; never a sweeper."""

from __future__ import annotations

from typing import Any

from dse.tracking.runs import PARENT_RUN_FILE, SweepCallback, SweepRecorder, connect, print_front

__all__ = ["PARENT_RUN_FILE", "SweepCallback", "SweepRecorder", "connect", "print_front"]


def __getattr__(name: str) -> Any:  # `from dse.tracking import X` for any X of runs.py
    import importlib  # not `from dse.tracking import runs`: that asks __getattr__ again

    try:
        return getattr(importlib.import_module("dse.tracking.runs"), name)
    except AttributeError:
        raise AttributeError(f"module 'dse.tracking' has no attribute {name!r}") from None
