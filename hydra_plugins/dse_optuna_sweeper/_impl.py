"""The Optuna sweeper's work behind its public class (dse_optuna_sweeper.py): the study
opened and planned, the ask-launch-tell loop, the front recorded as trials finish, trials a
dead or interrupted run left settled. The sweep's lifecycle (checks, parent run, job
results, signals) is shared with the grid sweeper: hydra_plugins/dse_sweep/lifecycle.py."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from hydra.core.utils import JobReturn
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

from dse.api.errors import ConfigError, require
from dse.front.fidelity import FIDELITY_TAG, LOW, Fidelity, promoted
from dse.front.render import FrontSummary
from dse.front.search import Constraint, Objective, violations
from dse.front.store import TAG_TRIAL, child_runs
from dse.runtime.adapters.optuna import writable_trial
from dse.runtime.locks import study_lock
from dse.runtime.redact import redact
from dse.tracking.results import JobResult
from dse.tracking.runs import SweepRecorder, print_front
from hydra_plugins.dse_launcher._submitit import cancelled_if_interrupted
from hydra_plugins.dse_optuna_sweeper import _ledger as ledger
from hydra_plugins.dse_optuna_sweeper._ledger import Heartbeat
from hydra_plugins.dse_optuna_sweeper._search_space import format_value, parse_search_space
from hydra_plugins.dse_optuna_sweeper._seeding import SeedPerTrial
from hydra_plugins.dse_optuna_sweeper._storage import (
    annotate_study,
    enqueue_reference,
    optuna_storage,
    record_constraints,
    record_screened,
)
from hydra_plugins.dse_sweep import lifecycle
from hydra_plugins.dse_sweep.lifecycle import quietly as _quietly

if TYPE_CHECKING:
    import optuna

log = logging.getLogger(__name__)

DEFAULT_OBJECTIVES = (Objective("snn_accuracy", "maximize"), Objective("energy_uj", "minimize"))
TAG_STATE = "optuna.trial_state"
# a trial's objective values at low fidelity, then its total constraint violation there
LOW_VALUES_ATTR = "low_fidelity_values"
# Seconds between records of the front while a sweep goes on (tags, hypervolume history:
# a step per trial whatever the interval), and between redraws of its plots: progress to
# watch in long sweeps, a negligible share of the time in fast ones, where a record after
# every trial cost more than the floor of the libraries (bench/trial_floor.py). The end of
# the sweep, a failure or a signal records everything that finished.
FRONT_INTERVAL_S = 10.0
PLOT_INTERVAL_S = 60.0


class DseOptunaSweeperImpl(Sweeper):
    """What :class:`DseOptunaSweeper` does (its docstring says what a user sees). A
    ``Sweeper`` itself for Hydra's ``validate_batch_is_legal``."""

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
        fidelity: Mapping[str, Any] | None = None,
    ) -> None:
        self.sampler_config = sampler
        self.params = dict(params or {})
        self.n_trials = n_trials
        self.n_jobs = n_jobs
        self.storage = storage
        self.study_name = study_name
        self.load_if_exists = load_if_exists
        self.max_failure_rate = max_failure_rate
        self.fidelity_config = fidelity
        self.fidelity: Fidelity | None = None  # made in _check_settings
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None
        self.launcher: Any = None
        self.job_idx = 0
        self.seed: int | None = None
        self.task_function: TaskFunction | None = None
        # what an interruption must settle (see _interrupted)
        self._study: optuna.Study | None = None
        self._pending: list[optuna.Trial] = []  # asked, not told yet
        self._heartbeat: Heartbeat | None = None
        self._recorder: SweepRecorder | None = None
        self._done = 0

    def _check_settings(self) -> None:
        """The sweeper's own settings (checked in sweep(), before anything is opened)."""
        require(self.n_trials >= 1, "hydra.sweeper.n_trials", "must be >= 1", self.n_trials)
        require(self.n_jobs >= 1, "hydra.sweeper.n_jobs", "must be >= 1", self.n_jobs)
        require(
            0.0 <= self.max_failure_rate <= 1.0,
            "hydra.sweeper.max_failure_rate",
            "must be in [0, 1]",
            self.max_failure_rate,
        )
        require(
            bool(self.study_name), "hydra.sweeper.study_name", "must not be empty", self.study_name
        )
        node = self.fidelity_config
        if isinstance(node, DictConfig):
            node = OmegaConf.to_container(node, resolve=True)
        if node and node.get("key") is not None:
            self.fidelity = Fidelity(str(node["key"]), int(node["low"]), float(node["eta"]))

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        from hydra.core.plugins import Plugins

        self.config = config
        self.hydra_context = hydra_context
        self.task_function = task_function
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

        storage = redact(str(self.storage))  # in messages: never the password
        try:
            study = optuna.create_study(
                storage=optuna_storage(self.storage),
                study_name=self.study_name,
                directions=directions,
                load_if_exists=self.load_if_exists,
            )
        except optuna.exceptions.DuplicatedStudyError:
            raise ConfigError(
                f"hydra.sweeper.study_name: study {self.study_name!r} already exists in "
                f"{storage} and load_if_exists is false; choose another name"
            ) from None
        except ConfigError:
            raise
        except Exception as err:  # the storage cannot be opened or written
            text = " ".join(str(err).split())[:300]
            raise ConfigError(
                f"hydra.sweeper.storage={storage}: cannot open the study there "
                f"({type(err).__name__}: {text}); give a writable journal file or database URL"
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
        self.seed = int(seed) if seed is not None else None
        if self.seed is None:
            study.sampler = instantiate(sampler_cfg)
        else:  # workers on one study never share a random stream (_seeding.py)
            make = instantiate(sampler_cfg, _partial_=True)  # once: a sampler per trial is cheap
            study.sampler = SeedPerTrial(lambda s: make(seed=s), self.seed)
        return study

    # ------------------------------------------------------------------ the loop

    def sweep(self, arguments: list[str]) -> FrontSummary | None:
        # a failure after the parent opened closes it in _sweep (with the front so far)
        return lifecycle.guarded(lambda: self._sweep(arguments), self._interrupted)

    def _sweep(self, arguments: list[str]) -> FrontSummary | None:
        import optuna

        assert self.config is not None and self.hydra_context is not None
        # Everything that can be wrong with the sweep is found before a trial or an MLflow
        # run exists: settings, search space, search spec, one composed job, the storage.
        self._check_settings()
        lines = [f"{k}={v}" for k, v in self.params.items()] + list(arguments)
        space, fixed = _parse_space(lines, self.hydra_context.config_loader)
        if not space:
            raise ConfigError(
                "hydra.sweeper.params: the search space is empty; give e.g. "
                "hydra.sweeper.params.quantizer.bits='choice(3,4,5)' or a sweep on the "
                "command line (quantizer.bits=3,4,5)"
            )
        objectives = self._objectives()
        constraints = self._constraints()
        self._preflight(space, fixed)
        directions = [o.direction for o in objectives]
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # the sweeper reports each trial
        # Workers starting together: one at a time creates the storage's tables, plans its
        # trials, enqueues the reference design and opens the parent run (dse.runtime.locks).
        with self._lock("setup"):
            study, todo, heartbeat = self._open_study(directions, objectives, constraints, space)
            state = "interrupted"  # unless the loop ends: the next run owes what is left
            try:
                lifecycle.open_parent(self.config)
            except BaseException as err:
                if not isinstance(err, KeyboardInterrupt):  # interrupts: _interrupted closes all
                    _quietly(heartbeat.close, "finished" if isinstance(err, SystemExit) else state)
                raise
        try:
            # The one writer of the front (dse.tracking.SweepRecorder), from the jobs' results.
            self._recorder = SweepRecorder(self.config, objectives, constraints)
            kept = self._settle_stale(todo, objectives, constraints)
            summary, state = self._loop(study, todo, space, fixed, objectives, constraints, kept)
        except BaseException as err:
            if not isinstance(err, KeyboardInterrupt):  # interrupts: _interrupted closes all
                _quietly(heartbeat.close, "finished" if isinstance(err, SystemExit) else state)
                if not isinstance(err, SystemExit):  # max_failure_rate closed the parent
                    self._close_parent(f"{type(err).__name__}: {err}")
            raise
        heartbeat.close(state)
        return summary

    def _open_study(
        self,
        directions: list[str],
        objectives: list[Objective],
        constraints: list[Constraint],
        space: dict[str, Any],
    ) -> tuple[optuna.Study, ledger.Plan, ledger.Heartbeat]:
        """Open the study, plan this invocation's trials and start its heartbeat."""
        assert self.config is not None
        study = self._create_study(directions)
        self._study = study
        todo = ledger.plan(study, self.n_trials)
        lifecycle.prepare_sweep_dir(self.config)
        heartbeat = ledger.Heartbeat(study, todo)
        try:
            heartbeat.start()  # the first write: proves the storage takes writes
            annotate_study(study, objectives, constraints)  # names optuna-dashboard shows
            enqueue_reference(study, self.config, space)  # search.reference: once per study
        except Exception as err:
            text = " ".join(str(err).split())[:300]
            raise ConfigError(
                f"hydra.sweeper.storage={redact(str(self.storage))}: the study cannot be "
                f"written ({type(err).__name__}: {text}); give a writable journal file or "
                "database URL"
            ) from None
        self._heartbeat = heartbeat
        return study, todo, heartbeat

    @contextlib.contextmanager
    def _lock(self, step: str) -> Iterator[None]:
        """Steps that happen once per study whoever comes first: workers on the same storage
        queue on it (dse.runtime.locks); a study in memory has no other workers. A lock that cannot
        be made (the storage's folder is a file, read-only) is one ConfigError line."""
        with contextlib.ExitStack() as stack:
            if self.storage:
                try:
                    stack.enter_context(study_lock(self.storage, f"dse:{step}"))
                except OSError as err:
                    raise ConfigError(
                        f"hydra.sweeper.storage={redact(str(self.storage))}: cannot lock the "
                        f"study there ({err.strerror or err}); give a writable journal file "
                        "or database URL"
                    ) from None
            yield

    def _loop(
        self,
        study: optuna.Study,
        todo: ledger.Plan,
        space: dict[str, Any],
        fixed: list[str],
        objectives: list[Objective],
        constraints: list[Constraint],
        kept: int = 0,
    ) -> tuple[FrontSummary | None, str]:
        """Ask, launch, tell until ``todo.n_trials`` trials ran; ``kept``: trials of a dead
        run whose results were kept count among them (they are this run's now)."""
        from optuna.trial import TrialState

        assert self.config is not None and self._recorder is not None
        recorder = self._recorder
        n_trials = todo.n_trials
        # queued trials (the reference design, re-queued ones) are still to run
        start = sum(t.state != TrialState.WAITING for t in study.trials)
        log.info(
            "Optuna study %r (%s): %d trials so far, adding %d; sampler %s (seed %s); "
            "objectives %s%s",
            self.study_name,
            redact(self.storage) if self.storage else "in memory",
            start,
            n_trials,
            _sampler_name(study.sampler),
            self.seed,
            ", ".join(f"{o.direction} {o.metric}" for o in objectives),
            f"; constraints {', '.join(map(str, constraints))}" if constraints else "",
        )
        summary: FrontSummary | None = None
        failures, done, last_error = 0, kept, ""
        last_front = last_plot = time.monotonic()
        while done < n_trials:
            batch = []
            for _ in range(min(self.n_jobs, n_trials - done)):
                trial = study.ask(space)
                self._pending.append(trial)
                trial.set_user_attr(ledger.OWNER_ATTR, todo.uid)
                batch.append(trial)
            overrides = [
                [
                    *fixed,
                    *(f"{k}={format_value(v)}" for k, v in t.params.items()),
                    f"++tracking.tags.optuna_trial={t.number}",
                    f"++tracking.tags.optuna_study={format_value(self.study_name)}",
                ]
                for t in batch
            ]
            if self.fidelity is not None:  # every design point first at low fidelity
                low = [[*o, self.fidelity.low_override()] for o in overrides]
                if done == 0:
                    self.validate_batch_is_legal(low)
                pairs = self._promote(
                    study,
                    batch,
                    overrides,
                    self._launch(low, objectives, constraints),
                    objectives,
                    constraints,
                )
            else:
                if done == 0:  # a full compose per trial: the first batch proves it composes
                    self.validate_batch_is_legal(overrides)
                pairs = list(
                    zip(batch, self._launch(overrides, objectives, constraints), strict=True)
                )
            for trial, result in pairs:
                params = " ".join(f"{k}={format_value(v)}" for k, v in trial.params.items())
                if result.prescreened is not None:  # infeasible before training: never trained
                    record_screened(trial, constraints, result.prescreen_violations)
                    study.tell(trial, state=TrialState.PRUNED)
                    self._pending.remove(trial)
                    recorder.add(result, trial=trial.number, tags={TAG_STATE: "PRUNED"})
                    log.info(
                        "[trial %d] %s -> pre-screened: %s",
                        trial.number,
                        params,
                        result.prescreened,
                    )
                    continue
                if result.ok:
                    # the dashboard's form too
                    record_constraints(trial, _violations(result, constraints))
                    if result.run_id is not None:
                        trial.set_user_attr("mlflow_run_id", result.run_id)
                    study.tell(trial, result.values(objectives))
                    self._pending.remove(trial)
                    recorder.add(result, trial=trial.number, tags={TAG_STATE: "COMPLETE"})
                    values = " ".join(
                        f"{o.metric}={v:.4g}"
                        for o, v in zip(objectives, result.values(objectives), strict=True)
                    )
                    log.info(
                        "[trial %d] %s -> %s%s",
                        trial.number,
                        params,
                        values,
                        "" if result.feasible else " (violates a constraint)",
                    )
                else:
                    error = result.error or ""
                    failures += 1
                    last_error = error
                    trial.set_user_attr("error", error[:2000])
                    study.tell(trial, state=TrialState.FAIL)
                    self._pending.remove(trial)
                    recorder.add(result, trial=trial.number, tags={TAG_STATE: "FAIL"})
                    log.warning("[trial %d] %s -> FAILED: %s", trial.number, params, error)
            done += len(batch)
            self._done = done
            recorder.fix_reference()  # from the first trials, however late the first record
            now = time.monotonic()
            if done < n_trials and now - last_front >= FRONT_INTERVAL_S:
                plots = now - last_plot >= PLOT_INTERVAL_S
                summary = self._record_front(study, todo.uid, artifacts=plots)
                last_front = time.monotonic()
                last_plot = last_front if plots else last_plot
            if failures > self.max_failure_rate * n_trials:
                message = (
                    f"stopping the sweep: {failures} of {done} trials failed, more than "
                    f"hydra.sweeper.max_failure_rate={self.max_failure_rate} x n_trials="
                    f"{n_trials}. Last error: {last_error}"
                )
                recorder.finish(message)  # the parent FAILED (a resumed sweep reopens it)
                raise SystemExit(f"error: {message}")  # one clear line, no traceback
        if done and failures == done:  # nothing to report: a broken setup, not a bad region
            message = (
                f"all {done} trials of this sweep failed (hydra.sweeper.max_failure_rate="
                f"{self.max_failure_rate} let it go on). Last error: {last_error}"
            )
            recorder.finish(message)
            raise SystemExit(f"error: {message}")

        summary = self._finish_front(study, todo.uid)
        self._report(study, todo.uid, summary, recorder)
        return summary, "finished"

    def _launch(
        self, overrides: list[list[str]], objectives: list[Objective], constraints: list[Constraint]
    ) -> list[JobResult]:
        """Run a batch of jobs; each result unpacked once (Optuna, the front and the log read
        the same :class:`JobResult`)."""
        with cancelled_if_interrupted(self.launcher):  # submitit: jobs die with the sweep
            returns: list[JobReturn] = list(
                self.launcher.launch(overrides, initial_job_idx=self.job_idx)
            )
        self.job_idx += len(overrides)
        return [lifecycle.job_result(r, objectives, constraints) for r in returns]

    def _promote(
        self,
        study: optuna.Study,
        batch: list[optuna.Trial],
        overrides: list[list[str]],
        low: list[JobResult],
        objectives: list[Objective],
        constraints: list[Constraint],
    ) -> list[tuple[optuna.Trial, JobResult]]:
        """Settle a batch's low-fidelity results: each point ranked against every
        low-fidelity result of the study (its rung, other workers' included) is promoted
        when among the best 1/eta (:mod:`dse.front.fidelity`) and resumed at full fidelity
        in one more launch, else told PRUNED (Optuna's TPE counts pruned trials among its
        bad observations; NSGA-II and random sampling ignore them). Returns the (trial,
        result) pairs the loop still tells: full-fidelity results, failures, pre-screened."""
        from optuna.trial import TrialState

        assert self.fidelity is not None and self._recorder is not None
        directions = [o.direction for o in objectives]
        pairs, promote = [], []
        for trial, result, job in zip(batch, low, overrides, strict=True):
            if not result.ok or result.prescreened is not None:
                pairs.append((trial, result))
                continue
            values = result.values(objectives)
            # constraint domination: a point that breaks a bound at low fidelity ranks last
            # (bounds on the test split wait for full fidelity: low fidelity measures val)
            violation = sum(
                max(0.0, c.violation(result.metrics))
                for c in constraints
                if c.metric in result.metrics
            )
            trial.set_user_attr(LOW_VALUES_ATTR, [*values, violation])
            rung = [t.user_attrs[LOW_VALUES_ATTR] for t in _rung(study, trial.number)]
            table = np.array([*rung, [*values, violation]], dtype=float)
            up = promoted(
                len(rung), table[:, :-1], directions, self.fidelity.eta, violations=table[:, -1]
            )
            shown = " ".join(f"{o.metric}={v:.4g}" for o, v in zip(objectives, values, strict=True))
            log.info(
                "[trial %d] low fidelity (%s) -> %s: %s",
                trial.number,
                self.fidelity.low_override(),
                shown,
                "promoted" if up else "pruned",
            )
            state = "PROMOTED" if up else "PRUNED"  # the low run's; the trial's own follows
            self._recorder.add(result, trial=trial.number, tags={TAG_STATE: state})
            if up:
                promote.append((trial, job))
            else:
                study.tell(trial, state=TrialState.PRUNED)
                self._pending.remove(trial)
        if promote:  # resumed from the cached low-fidelity network: the rest of the epochs
            full = self._launch([job for _, job in promote], objectives, constraints)
            pairs += [(t, r) for (t, _), r in zip(promote, full, strict=True)]
        return pairs

    # ------------------------------------------------------------------ several workers

    def _others_running(self, study: optuna.Study, uid: str) -> int:
        """Other invocations of this study still running (workers in other processes)."""
        if not self.storage:
            return 0
        return sum(ledger.is_alive(r) for k, r in ledger.records(study).items() if k != uid)

    def _finished_runs(self, study: optuna.Study) -> list[str]:
        """The MLflow runs of the study's completed trials, whoever ran them."""
        from optuna.trial import TrialState

        trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        ids = (t.user_attrs.get("mlflow_run_id") for t in trials)
        return [i for i in ids if isinstance(i, str)]

    def _record_front(self, study: optuna.Study, uid: str, artifacts: bool) -> FrontSummary | None:
        """The front so far. On a stored study, under the study's lock after counting what
        other workers finished (whenever they ran: a worker that ended before this record
        still counts), so the front, its tags and the hypervolume history are the whole
        study's, one writer at a time, on the reference point the first writer fixed. Alone
        that costs a lock and two reads, every FRONT_INTERVAL_S."""
        assert self._recorder is not None
        if not self.storage:  # in memory: no other worker can exist
            return self._recorder.record(artifacts=artifacts)
        with self._lock(f"front:{self.study_name}"):
            self._recorder.merge(self._finished_runs(study))
            return self._recorder.record(artifacts=artifacts)

    def _finish_front(self, study: optuna.Study, uid: str) -> FrontSummary | None:
        """The final front; the parent run is closed by the last worker of the study to
        finish (this one's record says finished before the lock is released, so of two
        workers ending together the second closes it)."""
        assert self._recorder is not None and self._heartbeat is not None
        with self._lock(f"front:{self.study_name}"):
            others = self._others_running(study, uid)
            finished = self._finished_runs(study)
            if self.storage:  # others' trials, whenever they ran (nothing new when alone)
                self._recorder.merge(finished)
            # the state of trials whose writer was killed before it recorded them
            self._recorder.tag_missing({r: {TAG_STATE: "COMPLETE"} for r in finished})
            summary = self._recorder.finish(close=others == 0)
            self._heartbeat.close("finished")
        if others:
            log.info(
                "%d other worker(s) still run study %r: the parent run stays RUNNING, the "
                "last of them to finish closes it",
                others,
                self.study_name,
            )
        return summary

    # ------------------------------------------------------------------ checks and cleanup

    def _preflight(self, space: Mapping[str, Any], fixed: list[str]) -> None:
        """One job of the sweep (each parameter at its first value) through the task's own
        checks (:func:`lifecycle.preflight`)."""
        assert self.config is not None and self.hydra_context is not None
        overrides = [*fixed, *(f"{k}={format_value(_first(d))}" for k, d in space.items())]
        if self.fidelity is not None:  # the low fidelity must compose and check too
            overrides.append(self.fidelity.low_override())
        lifecycle.preflight(
            self.config,
            self.hydra_context,
            self.task_function,
            overrides,
            "the sweep's overrides do not compose",
        )

    def _settle_stale(
        self, todo: ledger.Plan, objectives: list[Objective], constraints: list[Constraint]
    ) -> int:
        """Trials left RUNNING by a dead process: told COMPLETE when their MLflow run
        finished (the result is kept, not run again, and counts as one of this run's
        trials: returns how many), else FAIL with their run KILLED and their design point
        re-queued. Then re-queue every interrupted trial."""
        from optuna.trial import TrialState

        study = self._study
        assert study is not None
        kept = 0
        for t in todo.stale:
            values = self._finished_result(t.number, objectives, constraints)
            trial = writable_trial(study, t)
            if values is not None:
                metrics, run_id = values
                # the dashboard's form too (_finished_result: every constraint metric is there)
                record_constraints(trial, violations(constraints, metrics) or ())
                trial.set_user_attr("mlflow_run_id", run_id)
                # this run's now: a kill from here on leaves it counted where it is owed
                trial.set_user_attr(ledger.OWNER_ATTR, todo.uid)
                study.tell(t.number, [float(metrics[o.metric]) for o in objectives])
                log.info("[trial %d] finished before its process died: result kept", t.number)
                kept += 1
                continue
            reason = "its sweep process died (no heartbeat)"
            trial.set_user_attr(ledger.INTERRUPTED_ATTR, reason)
            study.tell(t.number, state=TrialState.FAIL)
            self._close_trial_runs([t.number], f"interrupted: {reason}")
        again = ledger.requeue(study)
        if todo.adopted:
            log.warning(
                "Resuming an interrupted sweep of study %r: %d trials left to run%s",
                self.study_name,
                todo.n_trials - kept,
                f", re-queued trials {again} first" if again else "",
            )
        elif again:
            log.warning("Re-queued interrupted trials %s of study %r", again, self.study_name)
        return kept

    def _child_runs(self, trial_numbers: list[int]) -> list[Any]:
        """This study's MLflow child runs of the given trials (none without a parent run)."""
        recorder = self._recorder
        if recorder is None or recorder.uri is None or not trial_numbers:
            return []
        from dse.tracking import runs as tracking

        parent = tracking.read_parent_run_id(recorder.sweep_dir)
        if parent is None:
            return []
        wanted = {str(n) for n in trial_numbers}
        runs = child_runs(tracking.connect(recorder.uri), parent)
        return [r for r in runs if r.data.tags.get(TAG_TRIAL) in wanted]

    def _finished_result(
        self, number: int, objectives: list[Objective], constraints: list[Constraint]
    ) -> tuple[dict[str, float], str] | None:
        for run in self._child_runs([number]):
            m = run.data.metrics
            needed = [o.metric for o in objectives] + [c.metric for c in constraints]
            if run.data.tags.get(FIDELITY_TAG) == LOW:  # not the trial's result: its first step
                continue
            if run.info.status == "FINISHED" and all(k in m for k in needed):
                return dict(m), run.info.run_id
        return None

    def _close_trial_runs(self, numbers: list[int], reason: str) -> None:
        from dse.tracking import runs as tracking

        runs = [r for r in self._child_runs(numbers) if r.info.status == "RUNNING"]
        if runs and self._recorder is not None and self._recorder.uri is not None:
            client = tracking.connect(self._recorder.uri)
            tracking.close_runs(client, [r.info.run_id for r in runs], "KILLED", reason)

    def _close_parent(self, error: str) -> None:
        """An error after the parent run opened: the parent FAILED with it (with the front
        of what finished when a batch was recorded), never left RUNNING."""
        recorder = self._recorder
        try:
            if recorder is not None and recorder.parent is not None:
                recorder.finish(error)
                return
        except Exception as err:  # recording the front failed too: close the run without it
            log.warning("could not record the front: %s", err)
        if self.config is None:
            return
        try:
            lifecycle.close_parent(self.config, error)
        except Exception as err:  # the store itself is gone: say so, keep the first error
            log.warning("could not close the MLflow parent run: %s", err)

    def _interrupted(self, err: BaseException) -> str:
        """Ctrl-C or SIGTERM: the trials in flight FAIL in Optuna (re-queued by the next run
        of the same command) or, when their design point had finished, COMPLETE; their MLflow
        runs KILLED; the parent KILLED with the front of what finished. Returns the line to
        print."""
        from optuna.trial import TrialState

        from dse.runtime.interrupts import signal_name

        reason = f"interrupted by {signal_name(err)}"
        study = self._study
        settled = list(self._pending)
        kept = 0  # trials whose design point had finished: told COMPLETE, not re-run
        if study is not None:
            objectives, constraints = self._objectives(), self._constraints()
            for trial in settled:
                try:
                    values = self._finished_result(trial.number, objectives, constraints)
                    if values is not None:
                        metrics, run_id = values
                        record_constraints(trial, violations(constraints, metrics) or ())
                        trial.set_user_attr("mlflow_run_id", run_id)
                        study.tell(trial, [float(metrics[o.metric]) for o in objectives])
                        kept += 1
                    else:
                        trial.set_user_attr(ledger.INTERRUPTED_ATTR, reason)
                        study.tell(trial, state=TrialState.FAIL)
                except Exception as exc:  # already told: nothing to settle
                    log.debug("trial %d: %s", trial.number, exc)
        if self._heartbeat is not None:
            _quietly(self._heartbeat.close, "interrupted")
        where = ""
        recorder = self._recorder
        if recorder is None and self.config is not None:  # stopped before the first batch
            if OmegaConf.select(self.config, "tracking.uri"):
                recorder = SweepRecorder(self.config, DEFAULT_OBJECTIVES, ())
        others = 0
        if study is not None and self._heartbeat is not None:
            uid = self._heartbeat.key[len(ledger.RECORD_PREFIX) :]
            others = _count(lambda: self._others_running(study, uid))
        try:
            if others:  # other workers go on with the study: only this one's runs close
                if self._recorder is not None:  # the tags of what this worker finished
                    self._record_front(study, uid, artifacts=False)
                self._close_trial_runs([t.number for t in settled], f"interrupted: {reason}")
                where = f"; {others} other worker(s) still run the study, its parent run stays"
            elif recorder is not None:
                recorder.interrupted(reason)
                if recorder.parent is not None:
                    where = f"; the front so far is on MLflow parent run {recorder.parent}"
        except Exception as exc:  # the store failed too: the line still comes
            log.warning("could not close the MLflow runs: %s", exc)
        if study is None:
            return "the sweep stopped before its first trial"
        return (
            f"sweep of study {self.study_name!r} stopped after {self._done + kept} trials; "
            f"{len(settled) - kept} running trial(s) closed (FAIL in Optuna, KILLED in "
            f"MLflow), run the same command again to finish it{where}"
        )

    def _report(
        self,
        study: optuna.Study,
        uid: str,
        summary: FrontSummary | None,
        recorder: SweepRecorder,
    ) -> None:
        assert self.config is not None
        from optuna.trial import TrialState

        trials = study.trials
        added = [t for t in trials if t.user_attrs.get(ledger.OWNER_ATTR) == uid]
        complete = sum(t.state == TrialState.COMPLETE for t in trials)
        print(
            f"\nOptuna study {self.study_name!r}: "
            f"{sum(t.state == TrialState.COMPLETE for t in added)} of {len(added)} new trials "
            f"complete; {complete} complete of {len(trials)} trials in all."
        )
        if summary is not None and recorder.parent is not None:
            print_front(summary, recorder.parent, recorder.uri or "")
        elif len(study.directions) > 1:
            print(f"Pareto-optimal trials: {[t.number for t in study.best_trials]}")
        if self.storage:
            print(f"Browse the study:   optuna-dashboard {redact(self.storage)}")
            if self._constraints():
                print(DASHBOARD_BEST_TRIALS_NOTE)


# optuna-dashboard 0.21's "Best Trials" ignores constraints (its issue #772): said where the
# command is printed, not only in the README.
DASHBOARD_BEST_TRIALS_NOTE = (
    "  (its Best Trials list ignores constraints, optuna/optuna-dashboard#772: infeasible "
    "trials can appear there; its Pareto Front plot and the MLflow front do not list them)"
)


def _violations(result: JobResult, constraints: list[Constraint]) -> tuple[float, ...]:
    """The finished job's violations; a constraint's metric it did not return is a mistake
    in the search spec (ConfigError, as the constraint words it), not an infeasible point."""
    if result.violations is None:
        for c in constraints:
            c.violation(result.metrics)  # raises for the missing metric
    return result.violations or ()


def _rung(study: optuna.Study, number: int) -> list[optuna.trial.FrozenTrial]:
    """The study's other trials that have a low-fidelity result (any worker's)."""
    trials = study.get_trials(deepcopy=False)
    return [t for t in trials if t.number != number and LOW_VALUES_ATTR in t.user_attrs]


def _parse_space(lines: list[str], loader: Any) -> tuple[dict[str, Any], list[str]]:
    """parse_search_space with Hydra's grammar errors as one ConfigError line."""
    from hydra.errors import HydraException

    try:
        return parse_search_space(lines, loader)
    except HydraException as err:
        text = " ".join(str(err).split())
        raise ConfigError(f"hydra.sweeper.params / overrides: {text}") from None


def _first(distribution: Any) -> Any:
    """A value every distribution admits: the first choice, or the low end."""
    choices = getattr(distribution, "choices", None)
    return choices[0] if choices is not None else distribution.low


def _sampler_name(sampler: Any) -> str:
    """The sampler's class, the one inside a per-trial seeding wrapper."""
    return type(getattr(sampler, "inner", sampler)).__name__


def _count(step: Any) -> int:
    """``step()``, or 0 when the store cannot answer (cleanup goes on without it)."""
    try:
        return int(step())
    except Exception:
        return 0
