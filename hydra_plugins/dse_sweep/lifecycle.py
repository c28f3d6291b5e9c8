"""The lifecycle of a dse sweep, shared by the grid and the Optuna sweeper.

1. ``guarded``: the sweep runs with Ctrl-C and SIGTERM as one exception; a configuration
   mistake ends in one line ``error: ...``, a signal in ``interrupted (...)`` and exit
   128 + signal (dse.runtime.interrupts).
2. ``preflight``: one composed job of the sweep through the task's own checks, before
   anything is opened; ``prepare_sweep_dir`` (multirun.yaml) and ``open_parent`` (the
   MLflow parent run, after the checks) then open the sweep.
3. ``job_result``: each job's ``JobReturn`` unpacked once into a
   :class:`dse.tracking.results.JobResult` (metrics, run, params, feasibility), which the
   sweeper and the front's writer (:class:`dse.tracking.SweepRecorder`) read.
4. ``close_parent``: a sweep that fails after its parent opened closes it FAILED (KILLED),
   never leaving it RUNNING.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from hydra.core.utils import JobReturn
from omegaconf import DictConfig, OmegaConf

from dse.api.errors import ConfigError, DseError
from dse.api.interfaces import PLUGIN_GROUPS
from dse.front.search import Constraint, Objective, violations
from dse.runtime.adapters.hydra import job_exception
from dse.runtime.redact import redact
from dse.tracking import runs as tracking
from dse.tracking.results import JobResult

log = logging.getLogger(__name__)
T = TypeVar("T")


def guarded(
    sweep: Callable[[], T],
    interrupted: Callable[[BaseException], str],
    failed: Callable[[str], None] | None = None,
) -> T:
    """Run ``sweep()`` with signals as KeyboardInterrupt. A DseError: ``failed(reason)``,
    then one line ``error: ...``; another exception: ``failed(reason)`` and it goes on up;
    Ctrl-C or SIGTERM: ``interrupted(err)`` closes what is open (shielded from a second
    signal) and returns the line to print."""
    from dse.runtime.interrupts import shielded, signals_interrupt, stop

    with signals_interrupt():
        try:
            return sweep()
        except DseError as err:  # a configuration mistake: one clear line, no traceback
            if failed is not None:
                failed(str(err))
            raise SystemExit(f"error: {err}") from None
        except KeyboardInterrupt as err:  # Ctrl-C or SIGTERM: close what is open
            with shielded():
                message = interrupted(err)
            raise stop(err, message) from None
        except Exception as err:
            if failed is not None:
                failed(f"{type(err).__name__}: {err}")
            raise


def preflight(
    config: DictConfig, hydra_context: Any, task_function: Any, overrides: Sequence[str], what: str
) -> None:
    """Compose one job of the sweep (``overrides``) and hand it to the task function's own
    check (``task_function.dse_preflight``, when it has one: ``dse`` checks plugins,
    dataset, tracking store and the search spec's metrics). ``what`` opens the line of a
    composition error: ``the grid does not compose``."""
    check = getattr(task_function, "dse_preflight", None)
    if check is None:
        return
    try:
        job = hydra_context.config_loader.load_sweep_config(config, list(overrides))
    except Exception as err:  # composition errors: Hydra's message, one line
        raise ConfigError(f"{what}: {' '.join(str(err).split())}") from None
    check(job)


def prepare_sweep_dir(config: DictConfig) -> None:
    """The sweep folder with its ``multirun.yaml`` (passwords masked); ConfigError when it
    cannot be written."""
    sweep_dir = Path(config.hydra.sweep.dir)
    try:
        sweep_dir.mkdir(parents=True, exist_ok=True)
        (sweep_dir / "multirun.yaml").write_text(redact(OmegaConf.to_yaml(config)))
    except OSError as err:
        raise ConfigError(f"hydra.sweep.dir={sweep_dir}: cannot be written ({err})") from None


def open_parent(config: DictConfig) -> None:
    """The sweep's MLflow parent run, for a dse app (one with ``tracking.uri``): opened
    here, after the checks, so a sweep that cannot start leaves no run behind."""
    if OmegaConf.select(config, "tracking.uri") and tracking.opens_own_parent(config):
        tracking.open_sweep_parent(config)


def close_parent(config: DictConfig, reason: str, status: str = "FAILED") -> None:
    """Close the sweep's parent run (when one was opened) with ``status`` and tag
    ``dse.error`` = ``reason``."""
    uri = OmegaConf.select(config, "tracking.uri")
    parent = tracking.read_parent_run_id(config.hydra.sweep.dir) if uri else None
    if parent is not None:
        tracking.close_runs(tracking.connect(uri), [parent], status, reason)


def job_result(
    ret: JobReturn, objectives: Sequence[Objective], constraints: Sequence[Constraint] = ()
) -> JobResult:
    """A job's ``JobReturn`` unpacked: the exception it raised, or the design point's
    return value (metrics, ``mlflow_run_id``, ``mlflow_run_name``, ``mlflow_params``,
    ``fidelity``) checked to hold every objective as a finite number, with its constraints'
    violations; or a design point pre-screened before training (``prescreened``)."""
    err = job_exception(ret)
    if err is not None:
        run_id = getattr(err, "mlflow_run_id", None)  # set by tracking.fail_design_run
        return JobResult(
            error=f"{type(err).__name__}: {err}",
            run_id=run_id if isinstance(run_id, str) else None,
            raised=True,
            exception=err,
        )
    value = ret.return_value
    if isinstance(value, DictConfig):
        value = OmegaConf.to_container(value, resolve=True)
    if not isinstance(value, Mapping):
        return JobResult(
            error=f"the task function returned {type(value).__name__}, not a dict of metrics"
        )
    run_id = value.get("mlflow_run_id")
    run_id = run_id if isinstance(run_id, str) else None
    name = value.get("mlflow_run_name")
    name = name if isinstance(name, str) else None
    metrics = {
        str(k): float(v)
        for k, v in value.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    }
    if value.get("prescreened"):  # refused before training (dse.point.prescreen): no objectives
        return JobResult(
            error=None,
            metrics=metrics,
            run_id=run_id,
            run_name=name,
            params=_job_params(ret, value),
            prescreened=str(value["prescreened"]),
            prescreen_violations=dict(value.get("prescreen_violations") or {}),
        )
    missing = [o.metric for o in objectives if o.metric not in value]
    if missing:
        return JobResult(
            error=f"the design point returned no {', '.join(missing)} "
            f"(returned: {', '.join(map(str, value))}); check search.objectives",
            run_id=run_id,
        )
    for o in objectives:
        v = value[o.metric]
        if not isinstance(v, (int, float)) or not math.isfinite(float(v)):
            return JobResult(
                error=f"objective {o.metric} is {v!r}, not a finite number", run_id=run_id
            )
    fidelity = value.get("fidelity")
    return JobResult(
        error=None,
        metrics=metrics,
        run_id=run_id,
        run_name=name,
        params=_job_params(ret, value),
        violations=violations(constraints, metrics),
        fidelity=str(fidelity) if fidelity is not None else None,
    )


def job_error(result: JobResult) -> str:
    """A failed job's reason on one line (a DseError's message alone)."""
    err = result.exception
    if err is None:
        return result.error or ""
    text = " ".join(str(err).split())
    return text if isinstance(err, DseError) else f"{type(err).__name__}: {text}"


def _job_params(ret: JobReturn, value: Mapping[str, Any]) -> dict[str, str]:
    """A job's params as its MLflow run holds them (the flattened config, plugin choices
    for the groups): those the design point returned (``mlflow_params``), else made from
    the job's config."""
    returned = value.get("mlflow_params")
    if isinstance(returned, Mapping):
        params = {str(k): str(v) for k, v in returned.items()}
    else:
        params = tracking.run_params(tracking.plain_config(ret.cfg))
    choices = OmegaConf.select(ret.hydra_cfg, "hydra.runtime.choices") if ret.hydra_cfg else None
    for group in PLUGIN_GROUPS:
        if choices is not None and choices.get(group) is not None:
            params[group] = str(choices[group])
    return params


def quietly(step: Callable[..., Any], *args: Any) -> None:
    """A cleanup step that must not hide the error being reported (the store may be gone)."""
    try:
        step(*args)
    except Exception as err:
        log.warning("cleanup step %s failed: %s", getattr(step, "__name__", step), err)
