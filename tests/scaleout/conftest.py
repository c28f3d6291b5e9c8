"""Real components of a scaled-out search: an ``mlflow server`` on a free local port,
backed by a fresh PostgreSQL database (``postgres_url``, tests/conftest.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mlflow_server(postgres_url: str, tmp_path: Path) -> Iterator[str]:
    """``mlflow server`` with its store in ``postgres_url`` and proxied artifacts under
    tmp_path; yields its http:// URL."""
    port = free_port()
    log = (tmp_path / "mlflow-server.log").open("w")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "mlflow"), "server"]
        + ["--backend-store-uri", postgres_url, "--host", "127.0.0.1", "--port", str(port)]
        + ["--artifacts-destination", str(tmp_path / "server-artifacts"), "--workers", "2"],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(
                f"mlflow server did not start:\n{(tmp_path / 'mlflow-server.log').read_text()[-3000:]}"
            )
        time.sleep(0.5)
    yield url
    os.killpg(proc.pid, 15)
    proc.wait(timeout=30)
    log.close()
