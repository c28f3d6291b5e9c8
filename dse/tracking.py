"""MLflow recording: one run per design point, a parent run per multirun.

Layout in the tracking store::

    experiment "snn-dse"
      parent run (one per multirun, or per Optuna study: reused when the study resumes)
        child run per design point: params = flattened config, metrics, tags, artifacts

A multirun's parent run id is written to ``<sweep dir>/.dse_parent_run`` before any job
starts, so jobs in other processes (joblib launcher) find their parent too.
"""

from __future__ import annotations

import logging
import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, ListConfig, OmegaConf

from dse.errors import DseError, TrackingError

if TYPE_CHECKING:
    from mlflow import MlflowClient

log = logging.getLogger(__name__)

PARENT_RUN_FILE = ".dse_parent_run"
SWEEP_KEY_TAG = "dse.sweep_key"
PLUGIN_GROUPS = ("dataset", "model", "training", "quantizer", "coding", "hardware")


# --------------------------------------------------------------------------- connection


def check_reachable(uri: str, timeout_s: float = 5.0) -> None:
    """Fail fast, with what to do, when the tracking store cannot be used."""
    parsed = urlparse(uri)
    if parsed.scheme in ("http", "https"):
        try:
            with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout_s) as reply:
                if reply.status != 200:
                    raise OSError(f"HTTP {reply.status}")
        except (OSError, urllib.error.URLError) as err:
            reason = getattr(err, "reason", err)
            raise TrackingError(
                f"tracking.uri={uri} is unreachable ({reason}). Start the server "
                "(`mlflow server --host 127.0.0.1 --port 5000`) or record locally with "
                "tracking.uri=sqlite:///outputs/mlflow.db"
            ) from None
    elif parsed.scheme == "sqlite":
        path = uri[len("sqlite:///") :]
        if path and path != ":memory:":
            folder = Path(path).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise TrackingError(f"tracking.uri={uri}: cannot create {folder} ({err})") from None
            if not os.access(folder, os.W_OK):
                raise TrackingError(f"tracking.uri={uri}: {folder} is not writable")
    elif parsed.scheme in ("", "file"):
        raise TrackingError(
            f"tracking.uri={uri}: MLflow 3 refuses the file store; use "
            "tracking.uri=sqlite:///<path>/mlflow.db or an http:// server"
        )


# One client per tracking URI and one id per experiment in a process: the trials of a sweep
# share them instead of paying a connection check and a lookup each.
_clients: dict[str, MlflowClient] = {}
_experiments: dict[tuple[str, str], str] = {}


def connect(uri: str) -> MlflowClient:
    """A client for ``uri``, checked to be reachable (TrackingError otherwise)."""
    if uri not in _clients:
        check_reachable(uri)
        # Fail within seconds instead of retrying for minutes when a server goes away.
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
        from mlflow import MlflowClient

        _clients[uri] = MlflowClient(tracking_uri=uri)
    return _clients[uri]


def experiment_id(client: MlflowClient, name: str) -> str:
    """Get or create the experiment; a SQLite store keeps artifacts next to its file."""
    key = (client.tracking_uri, name)
    if key not in _experiments:
        _experiments[key] = _get_or_create_experiment(client, name)
    return _experiments[key]


def _get_or_create_experiment(client: MlflowClient, name: str) -> str:
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = None
    uri = client.tracking_uri
    if uri.startswith("sqlite:///"):
        location = (Path(uri[len("sqlite:///") :]).resolve().parent / "mlartifacts").as_uri()
    try:
        return client.create_experiment(name, artifact_location=location)
    except Exception:  # created by a parallel worker meanwhile
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        return found.experiment_id


# --------------------------------------------------------------------------- parent runs


def read_parent_run_id(sweep_dir: str | Path) -> str | None:
    path = Path(sweep_dir) / PARENT_RUN_FILE
    return path.read_text().strip() if path.exists() else None


def open_parent_run(
    client: MlflowClient, exp_id: str, name: str, key: str | None, tags: dict[str, str]
) -> str:
    """Create the sweep's parent run, or reuse the one tagged with ``key`` (resume)."""
    if key is not None:
        escaped = key.replace("'", "\\'")
        found = client.search_runs(
            [exp_id], filter_string=f"tags.`{SWEEP_KEY_TAG}` = '{escaped}'", max_results=1
        )
        if found:
            run_id = found[0].info.run_id
            client.update_run(run_id, status="RUNNING")
            return run_id
        tags = {**tags, SWEEP_KEY_TAG: key}
    return client.create_run(exp_id, run_name=name, tags=tags).info.run_id


def sweep_key(config: DictConfig) -> str | None:
    """Optuna studies resume, and so does their parent run; other sweeps get a new one."""
    sweeper = config.hydra.sweeper
    if "study_name" in sweeper and sweeper.study_name:
        return f"{sweeper.get('storage', '')}:{sweeper.study_name}"
    return None


class SweepCallback(Callback):
    """Opens the multirun's parent run and records its Pareto front at the end."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            client = connect(config.tracking.uri)
            exp_id = experiment_id(client, config.tracking.experiment)
            key = sweep_key(config)
            name = (
                f"sweep-{config.hydra.sweeper.get('study_name') or time.strftime('%Y%m%d-%H%M%S')}"
            )
            run_id = open_parent_run(client, exp_id, name, key, {"dse.kind": "sweep"})
        except DseError as err:
            raise SystemExit(f"error: {err}") from None
        sweep_dir = Path(config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        (sweep_dir / PARENT_RUN_FILE).write_text(run_id)
        log.info("MLflow parent run %s (experiment %s)", run_id, config.tracking.experiment)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from dse.pareto import Constraint, Objective, record_sweep_front

        run_id = read_parent_run_id(config.hydra.sweep.dir)
        if run_id is None:
            return
        client = connect(config.tracking.uri)
        objectives = [Objective(o.metric, o.direction) for o in config.search.objectives]
        constraints = [Constraint.parse(c) for c in config.search.constraints]
        summary = record_sweep_front(client, run_id, objectives, constraints)
        client.set_terminated(run_id, "FINISHED")
        print(summary.table())
        print(f"\nRecorded on MLflow parent run {run_id}. Browse it with:")
        print(f"  mlflow ui --backend-store-uri {config.tracking.uri}")


def fail_sweep(config: DictConfig, message: str, record_front: bool = True) -> None:
    """End a multirun that failed: the front of its finished runs recorded on the parent
    run (``record_front``), tag ``dse.error`` = ``message``, status FAILED (never left
    RUNNING). The finished child runs stay as they are. Best effort: a tracking error here
    is logged, so the sweep's own error is the one the user sees."""
    run_id = read_parent_run_id(config.hydra.sweep.dir)
    if run_id is None:
        return
    try:
        client = connect(config.tracking.uri)
        if record_front:
            from dse.pareto import Constraint, Objective, record_sweep_front

            objectives = [Objective(o.metric, o.direction) for o in config.search.objectives]
            constraints = [Constraint.parse(c) for c in config.search.constraints]
            record_sweep_front(client, run_id, objectives, constraints)
        client.set_tag(run_id, "dse.error", message[:5000])
        client.set_terminated(run_id, "FAILED")
    except Exception as err:  # noqa: BLE001 - the sweep's failure is what to report
        log.warning("could not mark MLflow parent run %s FAILED: %s", run_id, err)


# --------------------------------------------------------------------------- design points


def plain_config(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config as plain containers, without Hydra's own node (which only
    resolves inside a running job)."""
    return {
        key: OmegaConf.to_container(cfg[key], resolve=True)
        if isinstance(cfg[key], DictConfig | ListConfig)
        else cfg[key]
        for key in cfg
        if key != "hydra"
    }


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists stay whole values."""
    if isinstance(node, DictConfig):
        node = OmegaConf.to_container(node, resolve=True)
    out: dict[str, Any] = {}
    if isinstance(node, dict):
        for key, value in node.items():
            out.update(flatten(value, f"{prefix}{key}."))
    else:
        out[prefix[:-1]] = node
    return out


def start_design_run(
    client: MlflowClient,
    exp_id: str,
    cfg: DictConfig,
    choices: dict[str, str],
    run_name: str,
    parent_run_id: str | None,
) -> str:
    """Create the design point's run with its params and tags, before any work."""
    from mlflow.entities import Param

    tags = {f"dse.{group}": choices.get(group, "") for group in PLUGIN_GROUPS}
    tags.update({str(k): str(v) for k, v in (cfg.tracking.tags or {}).items()})
    if parent_run_id:
        tags["mlflow.parentRunId"] = parent_run_id
    run_id = client.create_run(exp_id, run_name=run_name, tags=tags).info.run_id
    params = [Param(k, str(v)[:6000]) for k, v in flatten(plain_config(cfg)).items()]
    for start in range(0, len(params), 100):  # MLflow's batch limit is 100 params
        client.log_batch(run_id, params=params[start : start + 100])
    return run_id


def finish_design_run(
    client: MlflowClient,
    run_id: str,
    metrics: dict[str, float],
    tags: dict[str, str],
    artifact_dir: Path | None = None,
) -> None:
    """Metrics and tags in one batch, the files of ``artifact_dir`` in one call, FINISHED."""
    from mlflow.entities import Metric, RunTag

    now = int(time.time() * 1000)
    client.log_batch(
        run_id,
        metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items()],
        tags=[RunTag(k, str(v)) for k, v in tags.items()],
    )
    if artifact_dir is not None:
        client.log_artifacts(run_id, str(artifact_dir))
    client.set_terminated(run_id, "FINISHED")


def fail_design_run(client: MlflowClient, run_id: str, error: BaseException) -> None:
    client.set_tag(run_id, "dse.error", f"{type(error).__name__}: {error}"[:5000])
    client.set_terminated(run_id, "FAILED")
