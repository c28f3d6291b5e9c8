"""Shared fixtures: the real conf/ composed by Hydra's compose API, shrunk for tests."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support import CONF_DIR
from tests.support.services import fresh_database, mlflow_server_at, run_dse

# Tests must never reach the network or a user's MLflow server.
os.environ.pop("MLFLOW_TRACKING_URI", None)


@pytest.fixture
def compose() -> Callable:
    """compose(overrides) -> DictConfig of the real conf/ (no Hydra runtime)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from dse.registry.schema import register_schemas

    register_schemas()

    def _compose(overrides: list[str] | None = None, return_hydra_config: bool = False):
        with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
            return hydra_compose(
                "config", overrides=overrides or [], return_hydra_config=return_hydra_config
            )

    return _compose


@pytest.fixture
def dse_cli() -> Callable:
    return run_dse


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty database (for Optuna studies)."""
    with fresh_database() as url:
        yield url


@pytest.fixture
def mlflow_server(tmp_path: Path) -> Iterator[str]:
    """``mlflow server`` with its store in a database of its own on the test cluster (MLflow
    and Optuna each keep an ``alembic_version`` table: they cannot share one database) and
    proxied artifacts under tmp_path; yields its http:// URL."""
    with fresh_database() as database:
        yield from mlflow_server_at(database, tmp_path)
