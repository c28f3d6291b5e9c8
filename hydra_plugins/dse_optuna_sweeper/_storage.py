"""The study in its storage: where it is kept (``optuna_storage``), what optuna-dashboard
reads from it (metric names, constraint violations) and the reference design queued once
per study. optuna is imported inside the functions that need it."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig

from dse.front.browse import reference_design
from dse.front.search import Constraint, Objective
from dse.runtime.adapters.optuna import admits, set_system_attr

if TYPE_CHECKING:
    import optuna

# optuna-dashboard 0.21 reads a trial's constraint violations (<= 0: satisfied) from this
# system attribute, a list; Optuna reads the same list (FrozenTrial.constraints "0", "1", ...).
DASHBOARD_CONSTRAINTS_ATTR = "constraints"


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


def annotate_study(
    study: optuna.Study, objectives: Sequence[Objective], constraints: Sequence[Constraint]
) -> None:
    """Metric names (optuna-dashboard labels its axes and columns with them) and the
    constraints' text (the dashboard shows study user attributes)."""
    import optuna

    with warnings.catch_warnings():  # "experimental" since Optuna 3.2; the dashboard reads it
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names([o.metric for o in objectives])
    if constraints:
        study.set_user_attr("constraints", [str(c) for c in constraints])


def record_constraints(trial: optuna.Trial, violations: Sequence[float]) -> None:
    """Store the trial's violations (<= 0: satisfied, one per constraint, as
    :func:`dse.front.search.violations` computed them) as the list optuna-dashboard reads
    and Optuna's samplers use, and user attribute ``feasible``.

    Optuna 5's ``trial.set_constraint`` stores one system attribute per key, which
    optuna-dashboard 0.21 does not read (it shows every trial feasible); both read the list.
    """
    if violations:
        set_system_attr(trial, DASHBOARD_CONSTRAINTS_ATTR, list(violations))
    trial.set_user_attr("feasible", all(v <= 0.0 for v in violations))


def record_screened(
    trial: optuna.Trial, constraints: Sequence[Constraint], violations: Mapping[str, float]
) -> None:
    """A pre-screened trial's violations in the list Optuna's samplers and optuna-dashboard
    read: the broken bounds by their margin, the others (never measured) as met."""
    values = [float(violations.get(str(c), 0.0)) for c in constraints]
    set_system_attr(trial, DASHBOARD_CONSTRAINTS_ATTR, values)
    trial.set_user_attr("feasible", False)


def enqueue_reference(study: optuna.Study, config: DictConfig, space: Mapping[str, Any]) -> bool:
    """Evaluate the reference design (``search.reference``) as the study's next trial, once
    per study, when it fixes every searched key; returns whether it was queued."""
    reference = reference_design(config)
    if reference is None or set(reference[1]) != set(space):
        return False
    values = {}
    for key, text in reference[1].items():
        dist = space[key]
        try:
            internal = dist.to_internal_repr(_number(text))
        except (TypeError, ValueError):  # not one of a choice's values
            return False
        if not admits(dist, internal):  # outside the searched range: not this study's design
            return False
        values[key] = dist.to_external_repr(internal)
    if any(t.params == values for t in study.trials):
        return False
    study.enqueue_trial(values, user_attrs={"reference_design": reference[0]})
    return True


def _number(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text
