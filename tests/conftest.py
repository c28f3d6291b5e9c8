"""Shared fixtures: the real conf/ composed by Hydra's compose API, shrunk for tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CONF_DIR = REPO / "conf"

# Tests must never reach the network or a user's MLflow server.
os.environ.pop("MLFLOW_TRACKING_URI", None)


@pytest.fixture
def compose() -> Callable:
    """compose(overrides) -> DictConfig of the real conf/ (no Hydra runtime)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from dse.config import register_schemas

    register_schemas()

    def _compose(overrides: list[str] | None = None, return_hydra_config: bool = False):
        with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
            return hydra_compose(
                "config", overrides=overrides or [], return_hydra_config=return_hydra_config
            )

    return _compose


def run_dse(args: list[str], cwd: Path, env: dict | None = None, timeout: int = 600):
    """Run the real ``dse`` console script; returns the CompletedProcess."""
    exe = Path(sys.executable).parent / "dse"
    return subprocess.run(
        [str(exe), *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def dse_cli() -> Callable:
    return run_dse
