"""Services the tests start: the real ``dse`` command, fresh PostgreSQL databases on the
test cluster, an ``mlflow server`` on one of them.

.ci/run starts a PostgreSQL cluster and exports its URL as DSE_TEST_POSTGRES
(`.ci/postgres start DIR` does the same on any Debian machine). Without it the tests that
need it skip, except in CI (DSE_CI=1), where a missing component is a failure.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest


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


def missing(what: str) -> None:
    message = f"{what} (run .ci/postgres start DIR and export DSE_TEST_POSTGRES)"
    if os.environ.get("DSE_CI") == "1":
        pytest.fail(message)
    pytest.skip(message)


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    """A new, empty database on the test cluster, dropped afterwards; yields its URL."""
    server = os.environ.get("DSE_TEST_POSTGRES")
    if not server:
        missing("no PostgreSQL server for the scale-out tests")
    import sqlalchemy as sa

    name = f"dse_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mlflow_server_at(postgres_url: str, tmp_path: Path) -> Iterator[str]:
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
