"""The Hydra sweeper: a multi-objective Optuna study whose trials are design points.

A thin public class, as Hydra's own sweepers are: the work is in ``_impl.py`` (the study
and its loop), ``_storage.py`` (the study's storage and what optuna-dashboard reads),
``_ledger.py`` (sweeps that died), ``_seeding.py``, ``_search_space.py``; the lifecycle
shared with the grid sweeper in ``hydra_plugins/dse_sweep/lifecycle.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

# Registers the ConfigStore entries when Hydra's plugin discovery imports this module.
from hydra_plugins.dse_optuna_sweeper import config as _config  # noqa: F401
from hydra_plugins.dse_optuna_sweeper._impl import DseOptunaSweeperImpl

# How a script opens the study a sweep wrote (the same storage setting): public here.
from hydra_plugins.dse_optuna_sweeper._storage import optuna_storage

__all__ = ["DseOptunaSweeper", "optuna_storage"]


class DseOptunaSweeper(Sweeper):
    """Multi-objective Optuna search over design points (bits, time windows, PEs, ...).

    Each batch asks ``n_jobs`` trials from the sampler, launches them through Hydra's
    launcher (``hydra/launcher=joblib`` runs them in parallel) with the trial's parameters
    plus ``++tracking.tags.optuna_trial=<number>`` and ``++tracking.tags.optuna_study=<name>``
    as overrides, and tells Optuna the objective values (``search.objectives`` of the task
    config) and the constraint violations (``search.constraints``, as the list both Optuna
    and optuna-dashboard read: ``_storage.record_constraints``; the study gets the
    metric names, and a ``search.reference`` design is its first trial). A trial whose job
    raises is told as FAIL and the sweep goes
    on, until failures exceed ``max_failure_rate * n_trials`` (or every trial failed): one
    line ``error: ...``, the parent run FAILED. The child MLflow runs get
    tag ``optuna.trial_state`` and the front on the parent run is updated from the jobs'
    return values (:class:`dse.tracking.SweepRecorder`, the same writer as for grids: it
    reads nothing back), every ``FRONT_INTERVAL_S`` seconds and at the end, when the
    sweeper closes the parent run and prints the front.

    Resuming: with a ``storage`` and ``load_if_exists``, running the same command again
    loads the study ``study_name`` and adds ``n_trials`` more. A seeded sampler draws each
    trial from its own stream, seeded from the seed and the trial's number
    (:class:`_seeding.SeedPerTrial`): a resumed study continues instead of repeating the
    first invocation's proposals, and workers sharing the study never draw alike.

    Several workers (processes, machines) may run one study on a shared storage: creating
    it, enqueuing the reference design and opening the parent run happen under the study's
    lock (:mod:`dse.runtime.locks`), each worker counts the others' finished trials into the one
    front it records under that lock, and the last worker to finish closes the parent run.
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
        fidelity: Mapping[str, Any] | None = None,
    ) -> None:
        self.sweeper = DseOptunaSweeperImpl(
            sampler=sampler,
            params=params,
            n_trials=n_trials,
            n_jobs=n_jobs,
            storage=storage,
            study_name=study_name,
            load_if_exists=load_if_exists,
            max_failure_rate=max_failure_rate,
            fidelity=fidelity,
        )

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.sweeper.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> Any:
        return self.sweeper.sweep(arguments)
