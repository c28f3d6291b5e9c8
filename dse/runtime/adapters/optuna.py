"""Optuna 5: a trial's storage id and a distribution's range test.

Reach-ins (pinned by tests/runtime/test_adapters.py):
- ``trial_id``: the storage's own trial methods (system attributes, a writable ``Trial`` on
  a trial another process left RUNNING) take the id, which ``Trial`` and ``FrozenTrial``
  keep in ``_trial_id`` with no public accessor;
- ``admits``: whether a value lies in a distribution's range and step (``_contains``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna

__all__ = ["admits", "set_system_attr", "trial_id", "writable_trial"]


def trial_id(trial: optuna.Trial | optuna.trial.FrozenTrial) -> int:
    """The trial's id in its storage (reach-in: ``_trial_id``)."""
    return int(trial._trial_id)


def set_system_attr(trial: optuna.Trial, key: str, value: Any) -> None:
    """Set a system attribute of a running trial: ``Trial`` has no public setter, its
    ``storage`` is public and takes the trial's id."""
    trial.storage.set_trial_system_attr(trial_id(trial), key, value)


def writable_trial(study: optuna.Study, frozen: optuna.trial.FrozenTrial) -> optuna.Trial:
    """A writable handle on a RUNNING trial (e.g. one a dead process left), for
    user and system attributes before the study is told about it."""
    import optuna

    return optuna.Trial(study, trial_id(frozen))


def admits(distribution: Any, internal: float) -> bool:
    """Whether ``internal`` (a value in the distribution's internal form) lies in its range
    and on its step (reach-in: ``BaseDistribution._contains``)."""
    return bool(distribution._contains(internal))
