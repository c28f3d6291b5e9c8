"""The Hydra sweeper: a multi-objective Optuna study whose trials are design points."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hydra.core.utils import JobReturn, JobStatus
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

from dse.errors import ConfigError, DseError, require
from dse.front_browse import annotate_study, enqueue_reference, record_constraints
from dse.front_report import FrontSummary
from dse.search import Constraint, Objective
from dse.tracking import SweepRecorder, print_front

# Registers the ConfigStore entries when Hydra's plugin discovery imports this module.
from hydra_plugins.dse_optuna_sweeper import config as _config  # noqa: F401
from hydra_plugins.dse_optuna_sweeper._search_space import format_value, parse_search_space

if TYPE_CHECKING:
    import optuna

log = logging.getLogger(__name__)

DEFAULT_OBJECTIVES = (Objective("snn_accuracy", "maximize"), Objective("energy_uj", "minimize"))
TAG_STATE = "optuna.trial_state"
# Seconds between redraws of the front's plots on the parent run while a sweep goes on:
# progress to watch in long sweeps, a negligible share of their time in fast ones.
PLOT_INTERVAL_S = 60.0


class DseOptunaSweeper(Sweeper):
    """Multi-objective Optuna search over design points (bits, time windows, PEs, ...).

    Each batch asks ``n_jobs`` trials from the sampler, launches them through Hydra's
    launcher (``hydra/launcher=joblib`` runs them in parallel) with the trial's parameters
    plus ``++tracking.tags.optuna_trial=<number>`` and ``++tracking.tags.optuna_study=<name>``
    as overrides, and tells Optuna the objective values (``search.objectives`` of the task
    config) and the constraint violations (``search.constraints``, via
    ``trial.set_constraint``). A trial whose job raises is told as FAIL and the sweep goes
    on, until failures exceed ``max_failure_rate * n_trials`` (or every trial failed): one
    line ``error: ...``, the parent run FAILED. After each batch the child MLflow runs get
    tag ``optuna.trial_state`` and the front on the parent run is updated from the jobs'
    return values (:class:`dse.tracking.SweepRecorder`, the same writer as for grids: it
    reads nothing back); at the end the sweeper closes the parent run and prints the front.

    Resuming: with a ``storage`` and ``load_if_exists``, running the same command again
    loads the study ``study_name`` and adds ``n_trials`` more. The sampler's seed is then
    offset by the number of trials already in the study, so a seeded sampler continues
    instead of repeating the first invocation's proposals; a fresh study uses the seed as is.
    """

    def __init__(
        self,
        sampler: Any = None,
        params: Mapping[str, str] | None = None,
        n_trials: int = 20,
        n_jobs: int = 1,
        storage: str | None = None,
        study_name: str = "dse",
        load_if_exists: bool = True,
        max_failure_rate: float = 0.5,
    ) -> None:
        require(n_trials >= 1, "hydra.sweeper.n_trials", "must be >= 1", n_trials)
        require(n_jobs >= 1, "hydra.sweeper.n_jobs", "must be >= 1", n_jobs)
        require(
            0.0 <= max_failure_rate <= 1.0,
            "hydra.sweeper.max_failure_rate",
            "must be in [0, 1]",
            max_failure_rate,
        )
        require(bool(study_name), "hydra.sweeper.study_name", "must not be empty", study_name)
        self.sampler_config = sampler
        self.params = dict(params or {})
        self.n_trials = n_trials
        self.n_jobs = n_jobs
        self.storage = storage
        self.study_name = study_name
        self.load_if_exists = load_if_exists
        self.max_failure_rate = max_failure_rate
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None
        self.launcher: Any = None
        self.job_idx = 0
        self.seed: int | None = None

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        from hydra.core.plugins import Plugins

        self.config = config
        self.hydra_context = hydra_context
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    # ------------------------------------------------------------------ configuration

    def _objectives(self) -> list[Objective]:
        assert self.config is not None
        node = OmegaConf.select(self.config, "search.objectives")
        if not node:
            return list(DEFAULT_OBJECTIVES)
        return [Objective.from_config(o) for o in OmegaConf.to_container(node, resolve=True)]

    def _constraints(self) -> list[Constraint]:
        assert self.config is not None
        node = OmegaConf.select(self.config, "search.constraints") or []
        return [Constraint.parse(c) for c in node]

    def _create_study(self, directions: list[str]) -> optuna.Study:
        import optuna
        from hydra.utils import instantiate

        storage = self.storage
        try:
            study = optuna.create_study(
                storage=optuna_storage(storage),
                study_name=self.study_name,
                directions=directions,
                load_if_exists=self.load_if_exists,
            )
        except optuna.exceptions.DuplicatedStudyError:
            raise ConfigError(
                f"hydra.sweeper.study_name: study {self.study_name!r} already exists in "
                f"{storage} and load_if_exists is false; choose another name"
            ) from None
        old = [d.name.lower() for d in study.directions]
        if old != directions:
            raise ConfigError(
                f"search.objectives: study {self.study_name!r} in {storage} was created with "
                f"directions {old}, not {directions}; use another hydra.sweeper.study_name"
            )
        sampler_cfg = self.sampler_config
        if sampler_cfg is None:
            sampler_cfg = OmegaConf.create({"_target_": "optuna.samplers.TPESampler"})
        seed = OmegaConf.select(sampler_cfg, "seed") if "seed" in sampler_cfg else None
        self.seed = int(seed) + len(study.trials) if seed is not None else None
        kwargs = {"seed": self.seed} if seed is not None else {}
        study.sampler = instantiate(sampler_cfg, **kwargs)
        return study

    # ------------------------------------------------------------------ the loop

    def sweep(self, arguments: list[str]) -> FrontSummary | None:
        try:
            return self._sweep(arguments)
        except DseError as err:  # a configuration mistake: one clear line, no traceback
            raise SystemExit(f"error: {err}") from None

    def _sweep(self, arguments: list[str]) -> FrontSummary | None:
        import optuna
        from optuna.trial import TrialState

        assert self.config is not None and self.hydra_context is not None
        lines = [f"{k}={v}" for k, v in self.params.items()] + list(arguments)
        space, fixed = parse_search_space(lines, self.hydra_context.config_loader)
        if not space:
            raise ConfigError(
                "hydra.sweeper.params: the search space is empty; give e.g. "
                "hydra.sweeper.params.quantizer.bits='choice(3,4,5)' or a sweep on the "
                "command line (quantizer.bits=3,4,5)"
            )
        objectives = self._objectives()
        constraints = self._constraints()
        directions = [o.direction for o in objectives]
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # the sweeper reports each trial
        study = self._create_study(directions)
        annotate_study(study, objectives, constraints)  # names optuna-dashboard shows
        enqueue_reference(study, self.config, space)  # search.reference: once per study
        start = len(study.trials)
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        log.info(
            "Optuna study %r (%s): %d trials so far, adding %d; sampler %s (seed %s); "
            "objectives %s%s",
            self.study_name,
            self.storage or "in memory",
            start,
            self.n_trials,
            type(study.sampler).__name__,
            self.seed,
            ", ".join(f"{o.direction} {o.metric}" for o in objectives),
            f"; constraints {', '.join(map(str, constraints))}" if constraints else "",
        )

        # The one writer of the front (dse.tracking.SweepRecorder), from the jobs' results.
        recorder = SweepRecorder(self.config, objectives, constraints)
        summary: FrontSummary | None = None
        failures, done, last_error = 0, 0, ""
        last_plot = time.monotonic()
        while done < self.n_trials:
            batch = [study.ask(space) for _ in range(min(self.n_jobs, self.n_trials - done))]
            overrides = [
                [
                    *fixed,
                    *(f"{k}={format_value(v)}" for k, v in t.params.items()),
                    f"++tracking.tags.optuna_trial={t.number}",
                    f"++tracking.tags.optuna_study={format_value(self.study_name)}",
                ]
                for t in batch
            ]
            if done == 0:  # a full compose per trial: the first batch proves the space composes
                self.validate_batch_is_legal(overrides)
            returns = self.launcher.launch(overrides, initial_job_idx=self.job_idx)
            self.job_idx += len(batch)
            for trial, ret in zip(batch, returns, strict=True):
                error, metrics = _outcome(ret, objectives)
                params = " ".join(f"{k}={format_value(v)}" for k, v in trial.params.items())
                if error is None:
                    assert metrics is not None
                    try:
                        record_constraints(trial, constraints, metrics)  # the dashboard's form too
                    except ConfigError:
                        study.tell(trial, state=TrialState.FAIL)
                        raise
                    run_id = metrics.get("mlflow_run_id")
                    if isinstance(run_id, str):
                        trial.set_user_attr("mlflow_run_id", run_id)
                    study.tell(trial, [float(metrics[o.metric]) for o in objectives])
                    recorder.add(ret, trial=trial.number, tags={TAG_STATE: "COMPLETE"})
                    values = " ".join(
                        f"{o.metric}={float(metrics[o.metric]):.4g}" for o in objectives
                    )
                    feasible = all(c.satisfied(metrics) for c in constraints)
                    log.info(
                        "[trial %d] %s -> %s%s",
                        trial.number,
                        params,
                        values,
                        "" if feasible else " (violates a constraint)",
                    )
                else:
                    failures += 1
                    last_error = error
                    trial.set_user_attr("error", error[:2000])
                    study.tell(trial, state=TrialState.FAIL)
                    recorder.add(ret, trial=trial.number, tags={TAG_STATE: "FAIL"})
                    log.warning("[trial %d] %s -> FAILED: %s", trial.number, params, error)
            done += len(batch)
            # Tags and hypervolume after every batch; the plots (most of the cost) every
            # PLOT_INTERVAL_S, and at the end (finish).
            plots = done < self.n_trials and time.monotonic() - last_plot >= PLOT_INTERVAL_S
            if plots:
                last_plot = time.monotonic()
            if done < self.n_trials:
                summary = recorder.record(artifacts=plots)
            if failures > self.max_failure_rate * self.n_trials:
                message = (
                    f"stopping the sweep: {failures} of {done} trials failed, more than "
                    f"hydra.sweeper.max_failure_rate={self.max_failure_rate} x n_trials="
                    f"{self.n_trials}. Last error: {last_error}"
                )
                recorder.finish(message)  # the parent FAILED (a resumed sweep reopens it)
                raise SystemExit(f"error: {message}")  # one clear line, no traceback
        if failures == done:  # nothing to report: a broken setup, not a bad region
            message = (
                f"all {done} trials of this sweep failed (hydra.sweeper.max_failure_rate="
                f"{self.max_failure_rate} let it go on). Last error: {last_error}"
            )
            recorder.finish(message)
            raise SystemExit(f"error: {message}")

        summary = recorder.finish()
        self._report(study, start, summary, recorder)
        return summary

    def _report(
        self,
        study: optuna.Study,
        start: int,
        summary: FrontSummary | None,
        recorder: SweepRecorder,
    ) -> None:
        assert self.config is not None
        from optuna.trial import TrialState

        added = study.trials[start:]
        complete = sum(t.state == TrialState.COMPLETE for t in added)
        print(
            f"\nOptuna study {self.study_name!r}: {complete} of {len(added)} new trials "
            f"complete, {len(study.trials)} trials in all."
        )
        if summary is not None and recorder.parent is not None:
            print_front(summary, recorder.parent, recorder.uri or "")
        elif len(study.directions) > 1:
            print(f"Pareto-optimal trials: {[t.number for t in study.best_trials]}")
        if self.storage:
            print(f"Browse the study:   optuna-dashboard {self.storage}")


def optuna_storage(storage: str | None) -> optuna.storages.BaseStorage | str | None:
    """The sweeper's ``storage`` setting as Optuna takes it.

    A URL (``sqlite:///optuna.db``, ``postgresql://...``) is a database; anything else is
    the path of a journal file: one append-only log, which costs ~15 ms per trial where
    SQLite costs ~70 (ask + tell, measured on a 2-core machine), and which
    ``optuna-dashboard <path>`` opens as well. None keeps the study in memory.
    """
    if storage is None or "://" in storage:
        if storage and storage.startswith("sqlite:///"):
            Path(storage[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
        return storage
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    Path(storage).parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(storage))


def _outcome(ret: JobReturn, objectives: Sequence[Objective]) -> tuple[str | None, dict | None]:
    """(error, metrics) of one job: exactly one of them is None."""
    if ret.status != JobStatus.COMPLETED:
        err = ret._return_value  # the exception the job raised (JobReturn keeps it here)
        return f"{type(err).__name__}: {err}", None
    value = ret.return_value
    if isinstance(value, DictConfig):
        value = OmegaConf.to_container(value, resolve=True)
    if not isinstance(value, Mapping):
        return f"the task function returned {type(value).__name__}, not a dict of metrics", None
    missing = [o.metric for o in objectives if o.metric not in value]
    if missing:
        return (
            f"the design point returned no {', '.join(missing)} "
            f"(returned: {', '.join(map(str, value))}); check search.objectives",
            None,
        )
    for o in objectives:
        v = value[o.metric]
        if not isinstance(v, (int, float)) or not math.isfinite(float(v)):
            return f"objective {o.metric} is {v!r}, not a finite number", None
    return None, dict(value)
