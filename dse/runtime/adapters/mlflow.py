"""MLflow 3: the SQLAlchemy engine behind a client's database store.

MLflow has no public handle on it; dse needs one to tune SQLite (write-ahead log) and to
close a new store's connections before linking it into place (dse.tracking.runs). Pinned by
tests/runtime/test_adapters.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["store_engine"]


def store_engine(client: MlflowClient) -> Any:
    """The SQLAlchemy engine of ``client``'s tracking store (a database store only;
    reach-in: ``MlflowClient._tracking_client.store.engine``)."""
    return client._tracking_client.store.engine
