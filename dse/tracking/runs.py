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
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, ListConfig, OmegaConf

from dse.api.errors import ConfigError, DseError, TrackingError
from dse.api.interfaces import PLUGIN_GROUPS
from dse.front.store import child_runs
from dse.runtime.adapters.mlflow import store_engine
from dse.runtime.locks import store_lock
from dse.runtime.redact import redact, redact_values
from dse.tracking.names import ensure_experiment_kind, experiment_tags

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

    from dse.tracking.results import JobResult

log = logging.getLogger(__name__)

PARENT_RUN_FILE = ".dse_parent_run"
SWEEP_KEY_TAG = "dse.sweep_key"


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
                f"tracking.uri={redact(uri)} is unreachable ({reason}). Start the server "
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
                raise TrackingError(
                    f"tracking.uri={redact(uri)}: cannot create {folder} ({err})"
                ) from None
            if not os.access(folder, os.W_OK):
                raise TrackingError(f"tracking.uri={redact(uri)}: {folder} is not writable")
    elif parsed.scheme in ("", "file"):
        raise TrackingError(
            f"tracking.uri={redact(uri)}: MLflow 3 refuses the file store; use "
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
        from mlflow.exceptions import MlflowException

        try:
            # A fresh database store gets MLflow's tables and default experiment when the
            # client first opens it: one process at a time (several workers starting
            # together would run CREATE TABLE at once and all but one fail).
            with store_lock(uri, "dse:mlflow-store"):
                if uri.startswith("sqlite:///"):
                    _create_sqlite_store(Path(uri[len("sqlite:///") :]))
                client = MlflowClient(tracking_uri=uri)
            if uri.startswith("sqlite:///"):
                _tune_sqlite(client)
            _clients[uri] = client
        except MlflowException as err:  # e.g. an unknown scheme: MLflow's message, one line
            text = _first_sentence(err)
            supported = text[text.find("Supported URI schemes") :] if "Supported" in text else text
            raise TrackingError(
                f"tracking.uri={redact(uri)}: MLflow cannot record there ({supported}); use e.g. "
                "sqlite:///outputs/mlflow.db or http://host:5000"
            ) from None
        except (TrackingError, KeyboardInterrupt):
            raise
        except Exception as err:  # the database refused: no driver, no such database, rights
            raise TrackingError(
                f"tracking.uri={redact(uri)}: the MLflow store cannot be opened or created "
                f"there ({_one_line(err)})"
            ) from None
    return _clients[uri]


def _one_line(err: BaseException) -> str:
    """An exception as one short line: its type and the first line of its message (a
    database driver's messages run to many lines: SQL, background links)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return redact(f"{type(err).__name__}: {lines[0] if lines else ''}")[:300]


def _create_sqlite_store(path: Path) -> None:
    """A new SQLite store is built under a temporary name and linked into place, so a
    process killed while MLflow creates its tables (a second or more) leaves no
    half-migrated database, and two processes starting on a fresh folder never migrate the
    same file at once."""
    if path.name in ("", ":memory:") or path.exists():
        return
    from mlflow import MlflowClient

    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        client = MlflowClient(tracking_uri=f"sqlite:///{tmp}")
        store_engine(client).dispose()  # everything on disk before the link
        try:
            os.link(tmp, path)  # never replaces a store another process linked first
        except FileExistsError:
            pass
    finally:
        tmp.unlink(missing_ok=True)


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    """Write-ahead logging, synced at checkpoints rather than at every commit: a child run's
    five writes cost ~8 ms less CPU and ~12 ms less wall on a 2-core machine. A process that
    is killed loses nothing it committed (the log is in the OS's cache); a power cut may
    lose the last commits. WAL needs a local disk, not a network file system."""
    cursor = connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")  # kept in the file: once per store
        cursor.execute("PRAGMA synchronous=NORMAL")  # per connection
    except Exception as err:  # e.g. locked by another process's transaction: plain mode
        log.debug("SQLite pragmas not applied: %s", err)
    finally:
        cursor.close()


def _tune_sqlite(client: MlflowClient) -> None:
    """Apply :func:`_sqlite_pragmas` to every connection of the client's store (MLflow
    shares one engine per database URL in a process)."""
    from sqlalchemy import event

    engine = store_engine(client)  # no public handle on MLflow's engine
    if not event.contains(engine, "connect", _sqlite_pragmas):
        event.listen(engine, "connect", _sqlite_pragmas)
        engine.dispose()  # connections already pooled reopen with the pragmas


def _first_sentence(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text.split(". See ")[0]


def experiment_id(client: MlflowClient, name: str, outputs: str | Path | None = None) -> str:
    """Get or create the experiment. Artifacts of a new experiment go next to a SQLite
    store's file, under ``outputs`` (``paths.outputs``) for another database, never into
    the working directory; an MLflow server keeps its own. A store that refuses (read-only
    file, bad database) is one TrackingError."""
    from mlflow.exceptions import MlflowException

    key = (client.tracking_uri, name)
    if key not in _experiments:
        try:
            _experiments[key] = _get_or_create_experiment(client, name, outputs)
        except (MlflowException, OSError) as err:
            raise TrackingError(
                f"tracking.uri={redact(client.tracking_uri)}: the store refused to open experiment "
                f"{name!r} ({_first_sentence(err)[:300]})"
            ) from None
    return _experiments[key]


def _get_or_create_experiment(
    client: MlflowClient, name: str, outputs: str | Path | None = None
) -> str:
    found = client.get_experiment_by_name(name)
    if found is not None:
        ensure_experiment_kind(client, found.experiment_id, found.tags)  # an older store
        return found.experiment_id
    with store_lock(client.tracking_uri, "dse:mlflow-experiment"):  # workers starting together
        found = client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        return _create_experiment(client, name, outputs)


def _create_experiment(client: MlflowClient, name: str, outputs: str | Path | None) -> str:
    location = None
    uri = client.tracking_uri
    if uri.startswith("sqlite:///"):
        location = (Path(uri[len("sqlite:///") :]).resolve().parent / "mlartifacts").as_uri()
    elif not uri.startswith(("http://", "https://", "databricks")) and outputs is not None:
        location = (Path(outputs).resolve() / "mlartifacts").as_uri()  # e.g. postgresql://
    try:
        return client.create_experiment(name, artifact_location=location, tags=experiment_tags())
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
        return f"{redact(str(sweeper.get('storage', '') or ''))}:{sweeper.study_name}"
    return None


def open_sweep_parent(config: DictConfig) -> str:
    """Open (or, for a resumed study, reopen) the multirun's parent run and write its id to
    ``<sweep dir>/.dse_parent_run`` for the jobs. Raises TrackingError, or ConfigError when
    the sweep folder cannot be written."""
    client = connect(config.tracking.uri)
    exp_id = experiment_id(
        client, config.tracking.experiment, OmegaConf.select(config, "paths.outputs")
    )
    sweep_dir = Path(config.hydra.sweep.dir)
    try:  # the folder first: a run is never created for a sweep that cannot start
        sweep_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"hydra.sweep.dir={sweep_dir}: cannot be created ({err})") from None
    name = f"sweep-{config.hydra.sweeper.get('study_name') or time.strftime('%Y%m%d-%H%M%S')}"
    run_id = open_parent_run(client, exp_id, name, sweep_key(config), {"dse.kind": "sweep"})
    (sweep_dir / PARENT_RUN_FILE).write_text(run_id)
    log.info("MLflow parent run %s (experiment %s)", run_id, config.tracking.experiment)
    return run_id


def opens_own_parent(config: DictConfig) -> bool:
    """dse's sweepers open the parent run themselves, after checking the whole sweep, so a
    sweep that cannot start leaves no run behind."""
    target = str(OmegaConf.select(config, "hydra.sweeper._target_", default="") or "")
    return target.startswith("hydra_plugins.dse_")


def close_runs(client: MlflowClient, run_ids: Iterable[str], status: str, reason: str) -> int:
    """Terminate the runs of ``run_ids`` still RUNNING with ``status`` (KILLED, FAILED) and
    tag ``dse.error`` = ``reason``; returns how many it closed."""
    closed = 0
    for run_id in run_ids:
        if client.get_run(run_id).info.status != "RUNNING":
            continue
        client.set_tag(run_id, "dse.error", reason[:5000])
        client.set_terminated(run_id, status)
        closed += 1
    return closed


def running_children(client: MlflowClient, parent_run_id: str) -> list[Run]:
    """The parent's child runs still RUNNING (:func:`dse.front.store.child_runs`)."""
    return child_runs(client, parent_run_id, where="attributes.status = 'RUNNING'")


# Parent runs SweepCallback opened for another sweeper and not yet closed: a signal that
# ends the process before on_multirun_end (Hydra calls no callback then) closes them.
_open_parents: dict[str, str] = {}


def close_open_parents(status: str, reason: str) -> int:
    """Close the parent runs another sweeper's multirun left open (``dse``'s last step when
    a signal ends it); returns how many it closed."""
    closed = 0
    for run_id, uri in list(_open_parents.items()):
        try:
            closed += close_runs(connect(uri), [run_id], status, reason)
        except Exception as err:  # the store went away: say so, never a traceback
            log.warning("parent run %s left RUNNING: %s", run_id, _one_line(err))
        _open_parents.pop(run_id, None)
    return closed


class SweepCallback(Callback):
    """Opens the multirun's parent run (for sweepers other than dse's, which open it after
    their checks) and records its Pareto front at the end; for a single run, checks that
    its folder can be made before Hydra makes it (one line instead of a traceback)."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        folder = Path(str(config.hydra.run.dir))
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if not os.access(folder, os.W_OK):
                raise PermissionError(f"{folder} is not writable")
        except OSError as err:
            outputs = OmegaConf.select(config, "paths.outputs", default="?")
            reason = err.strerror or str(err)
            raise SystemExit(
                f"error: paths.outputs={outputs}: cannot write the run folder {folder} "
                f"({reason}); give a writable folder"
            ) from None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if opens_own_parent(config):
            return
        try:
            run_id = open_sweep_parent(config)
        except DseError as err:
            raise SystemExit(f"error: {err}") from None
        _open_parents[run_id] = str(config.tracking.uri)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """dse's sweepers (dse_grid, dse_optuna) record the front and close the parent
        themselves (:class:`SweepRecorder`); for any other sweeper (Hydra's basic, a
        third-party one) the front is computed here from the child runs."""
        from dse.front.browse import log_sweep_params
        from dse.front.search import constraints_of, objectives_of
        from dse.front.store import record_sweep_front

        if opens_own_parent(config):  # closed by its sweeper, or left to the study's last worker
            return
        run_id = read_parent_run_id(config.hydra.sweep.dir)
        if run_id is None:
            return
        _open_parents.pop(run_id, None)
        client = connect(config.tracking.uri)
        if client.get_run(run_id).info.status != "RUNNING":
            return  # closed by its sweeper, front recorded
        objectives, constraints = objectives_of(config), constraints_of(config)
        log_sweep_params(client, run_id, config, objectives, constraints)
        summary = record_sweep_front(client, run_id, objectives, constraints)
        client.set_terminated(run_id, "FINISHED")
        print_front(summary, run_id, config.tracking.uri)


def browse_command(uri: str) -> str | None:
    """The command that serves a store's UI: ``mlflow ui`` for a database or SQLite file;
    None for an MLflow server, which is its own UI (open its URL)."""
    if uri.startswith(("http://", "https://")):
        return None
    return f"mlflow ui --backend-store-uri {redact(uri)}"


def print_front(summary: Any, run_id: str, uri: str) -> None:
    """The front's table and where to browse it."""
    print(summary.table())
    from dse.front.browse import DEFAULT_UI, front_list_url, runs_url

    print(f"\nRecorded on MLflow parent run {run_id}. Browse it with:")
    command = browse_command(uri)
    if command:
        print(f"  {command}")
    if summary.experiment_id is not None:  # a server's own address, else `mlflow ui`'s
        ui = uri if uri.startswith(("http://", "https://")) else DEFAULT_UI
        print(f"  the runs:  {runs_url(ui, summary.experiment_id)}")
        print(f"  the front: {front_list_url(ui, summary.experiment_id, run_id)}")


class SweepRecorder:
    """The one writer of a multirun's front, for grids (dse_grid) and searches
    (dse_optuna) alike.

    The sweeper hands it each job's :class:`dse.tracking.results.JobResult` as its batch
    ends (:meth:`add`, then :meth:`record`). A finished job's point is what the job returned
    (its metrics, run id, params, feasibility): nothing the job just wrote is read back
    from MLflow. On the first batch the parent run and the children of an earlier
    invocation of the same study (a resumed Optuna study) are read once; the hypervolume
    reference is fixed from the first points and kept on the parent (params
    ``hypervolume_reference.*``), so once per study. :meth:`finish` writes the final front
    with its files and closes the parent FINISHED, or FAILED with the reason.
    Without a tracking URI or a parent run (no ``SweepCallback``) it records nothing.
    """

    def __init__(
        self,
        config: DictConfig,
        objectives: Sequence[Any] | None = None,
        constraints: Sequence[Any] | None = None,
    ) -> None:
        from dse.front.search import constraints_of, objectives_of

        self.uri: str | None = OmegaConf.select(config, "tracking.uri")
        self.sweep_dir = Path(config.hydra.sweep.dir)
        self.config = config
        self.objectives = list(objectives if objectives is not None else objectives_of(config))
        self.constraints = list(constraints if constraints is not None else constraints_of(config))
        self.parent: str | None = None
        self._client: Any = None
        self._front: Any = None  # SweepFront, loaded on the first batch, then kept
        self._warned = False

    def _open(self) -> Any:
        if self._front is not None or self.uri is None:
            return self._front
        self.parent = read_parent_run_id(self.sweep_dir)
        if self.parent is None:
            if not self._warned:
                log.warning(
                    "No MLflow parent run in %s (is dse.tracking.SweepCallback in "
                    "hydra.callbacks?): the Pareto front is not recorded in MLflow",
                    self.sweep_dir,
                )
                self._warned = True
            return None
        from dse.front.store import SweepFront

        self._client = connect(self.uri)
        self._front = SweepFront.load(self._client, self.parent, self.objectives, self.constraints)
        from dse.front.browse import log_sweep_params, reference_design

        # what the sweep searched, on its parent run
        log_sweep_params(self._client, self.parent, self.config, self.objectives, self.constraints)
        self._front.reference_design = reference_design(self.config)
        return self._front

    def add(
        self,
        result: JobResult,
        *,
        trial: int | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        """Count one job (its :class:`dse.tracking.results.JobResult`): a point when it
        finished, else a failure. ``tags`` go on its child run with the front's."""
        front = self._open()
        if front is None:
            return
        if not result.ok or result.run_id is None:
            front.add_failure(result.run_id, tags)  # the run, if the job got one
            return
        front.add_result(
            result.run_id,
            result.metrics,
            result.params,
            feasible=result.feasible,
            point=result.on_front,
            trial=trial,
            name=result.run_name if trial is None else None,
            tags=tags,
        )

    def merge(self, run_ids: Iterable[str]) -> None:
        """Count child runs other workers of the same study finished (``run_ids``: the
        study's completed trials' runs; this worker's own are known and skipped), and catch
        up with what they recorded on the parent. Call it under the study's lock."""
        front = self._open()
        if front is None:
            return
        front.add([r for r in run_ids if not front.known(r)], elsewhere=True)
        front.refresh()

    def fix_reference(self) -> None:
        """Fix the hypervolume's reference from the points counted so far (once per study;
        a no-op after that): :meth:`dse.front.store.SweepFront.fix_reference`."""
        front = self._open()
        if front is not None:
            front.fix_reference()

    def tag_missing(self, tags: Mapping[str, Mapping[str, str]]) -> None:
        """Tags (run id -> tags) for runs read back from MLflow that lack them
        (:meth:`dse.front.store.SweepFront.tag_missing`), written with the next record."""
        front = self._open()
        if front is not None:
            front.tag_missing(tags)

    def record(self, artifacts: bool = False) -> Any:
        """Write what changed (tags, hypervolume; the plots when ``artifacts``)."""
        front = self._open()
        return None if front is None else front.record(artifacts)

    def finish(
        self, error: str | None = None, status: str | None = None, close: bool = True
    ) -> Any:
        """The final front with its files; the parent FINISHED, or FAILED (``status``:
        KILLED for an interrupted sweep) with ``error`` (tag ``dse.error``); with ``close``
        false (other workers still run the study) the parent stays RUNNING. Returns the
        FrontSummary (None when nothing is recorded)."""
        front = self._open()
        if front is None:
            return None
        summary = front.record(artifacts=True)
        if not close:
            return summary
        if error is not None:
            self._client.set_tag(self.parent, "dse.error", error[:5000])
        if status is None:
            status = "FAILED" if error is not None else "FINISHED"
        self._client.set_terminated(self.parent, status)
        return summary

    def interrupted(self, reason: str) -> None:
        """A signal stopped the sweep: the children still RUNNING and the parent KILLED with
        ``reason``, the front of what finished kept (recorded, files included)."""
        parent = self.parent or read_parent_run_id(self.sweep_dir)
        if self.uri is None or parent is None:
            return
        client = connect(self.uri)
        children = [r.info.run_id for r in running_children(client, parent)]
        close_runs(client, children, "KILLED", reason)
        if self._front is not None:  # a batch was recorded: the front of what finished
            self.finish(reason, status="KILLED")
        else:  # nothing new since the front an earlier run recorded
            close_runs(client, [parent], "KILLED", reason)


# --------------------------------------------------------------------------- design points


def plain_config(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config as plain containers, without Hydra's own node (which only
    resolves inside a running job)."""
    return redact_values(  # a password in a URL is never recorded (dse.runtime.redact)
        {
            key: OmegaConf.to_container(cfg[key], resolve=True)
            if isinstance(cfg[key], DictConfig | ListConfig)
            else cfg[key]
            for key in cfg
            if key != "hydra"
        }
    )


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


def run_params(plain: Mapping[str, Any]) -> dict[str, str]:
    """A design point's MLflow params from its :func:`plain_config`: the flattened keys,
    each value as text (MLflow keeps at most 6000 characters)."""
    return {k: str(v)[:6000] for k, v in flatten(dict(plain)).items()}


def start_design_run(
    client: MlflowClient,
    exp_id: str,
    cfg: DictConfig,
    choices: dict[str, str],
    run_name: str,
    parent_run_id: str | None,
    log_params: bool = True,
) -> str:
    """Create the design point's run with its tags (and its params, unless ``log_params``
    is false: ``dse`` hands them to :func:`finish_design_run` / :func:`fail_design_run`
    instead, one write fewer per run), before any work."""
    tags = {f"dse.{group}": choices.get(group, "") for group in PLUGIN_GROUPS}
    tags.update({str(k): redact(str(v)) for k, v in (cfg.tracking.tags or {}).items()})
    if parent_run_id:
        tags["mlflow.parentRunId"] = parent_run_id
    run_id = client.create_run(exp_id, run_name=run_name, tags=tags).info.run_id
    if log_params:
        _log_batch(client, run_id, params=run_params(plain_config(cfg)))
    return run_id


def _log_batch(
    client: MlflowClient,
    run_id: str,
    params: Mapping[str, str] | None = None,
    metrics: Mapping[str, float] | None = None,
    tags: Mapping[str, str] | None = None,
) -> None:
    """Params, metrics and tags in as few calls as MLflow's limits allow (100 params and
    100 tags per call, 1000 entries in all): one for a design point's run."""
    from mlflow.entities import Metric, Param, RunTag

    now = int(time.time() * 1000)
    p = [Param(k, v) for k, v in (params or {}).items()]
    m = [Metric(k, float(v), now, 0) for k, v in (metrics or {}).items()]
    t = [RunTag(k, str(v)) for k, v in (tags or {}).items()]
    while p or m or t:
        room = 1000 - min(len(p), 100) - min(len(t), 100)
        client.log_batch(run_id, metrics=m[:room], params=p[:100], tags=t[:100])
        p, m, t = p[100:], m[room:], t[100:]


def finish_design_run(
    client: MlflowClient,
    run_id: str,
    metrics: Mapping[str, float],
    tags: Mapping[str, str],
    artifact_dir: Path | None = None,
    params: Mapping[str, str] | None = None,
) -> None:
    """Params (when :func:`start_design_run` did not log them), metrics and tags in one
    batch, the files of ``artifact_dir`` in one call, FINISHED."""
    _log_batch(client, run_id, params=params, metrics=metrics, tags=tags)
    if artifact_dir is not None:
        client.log_artifacts(run_id, str(artifact_dir))
    client.set_terminated(run_id, "FINISHED")


def fail_design_run(
    client: MlflowClient,
    run_id: str,
    error: BaseException,
    params: Mapping[str, str] | None = None,
) -> None:
    """Mark the run FAILED with the error (KILLED when a signal stopped it), with its
    ``params`` when they were not logged at its start; the run id travels on with the error
    (``error.mlflow_run_id``), so a sweeper tags the run without searching for it."""
    killed = isinstance(error, KeyboardInterrupt | SystemExit)
    text = f"interrupted ({error})" if killed else f"{type(error).__name__}: {error}"
    _log_batch(client, run_id, params=params, tags={"dse.error": text[:5000]})
    client.set_terminated(run_id, "KILLED" if killed else "FAILED")
    try:
        error.mlflow_run_id = run_id  # type: ignore[attr-defined]
    except AttributeError:  # an exception type without a __dict__: the run stays untagged
        pass
