"""A seed per trial, so that workers sharing one study never draw alike by construction.

A sampler seeded once per process makes workers that start together on one study draw the
same design points: same seed, same history. :class:`SeedPerTrial` instead gives every
trial a sampler of its own, seeded from the configured seed and the trial's number. The
storage hands out each number once, so two workers never sample with the same random
stream, while one worker's search stays reproducible: trial *n* of a study is drawn from
``trial_seed(seed, n)`` and the trials before it.

Optuna's samplers keep their state in the study (TPE, NSGA-II, GP and QMC read it back from
the storage), so a fresh instance per trial samples as the long-lived one would, apart
from its random stream.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.trial import FrozenTrial, TrialState


def trial_seed(seed: int, number: int) -> int:
    """A 31-bit seed for trial ``number`` of a study searched with ``seed``."""
    digest = hashlib.blake2b(f"{seed}:{number}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") & 0x7FFFFFFF


class SeedPerTrial(BaseSampler):
    """Delegates to ``make(trial_seed(seed, trial.number))``, made anew for each trial."""

    def __init__(self, make: Callable[[int], BaseSampler], seed: int) -> None:
        self._make = make
        self._seed = seed
        self._current = make(seed)  # until the first trial starts

    @property
    def inner(self) -> BaseSampler:
        return self._current

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self._current = self._make(trial_seed(self._seed, trial.number))
        self._current.before_trial(study, trial)

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return self._current.infer_relative_search_space(study, trial)

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return self._current.sample_relative(study, trial, search_space)

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        return self._current.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        # Any instance will do: they differ only in their random stream, and after_trial
        # stores what the trial produced (constraints), not random draws.
        try:
            self._current.after_trial(study, trial, state, values)
        except RuntimeError as err:
            # BruteForceSampler ends with study.stop() once every point ran, which Optuna
            # allows only inside study.optimize: with ask/tell the sweep's n_trials stops it
            if "Study.stop" not in str(err):
                raise

    def reseed_rng(self) -> None:
        self._current.reseed_rng()

    def __str__(self) -> str:
        return f"{type(self._current).__name__} (seed {self._seed}, one stream per trial)"
