"""Per-trial sampler seeds: workers on one study draw distinct points, one worker's search
is reproducible."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from hydra_plugins.dse_optuna_sweeper._seeding import SeedPerTrial, trial_seed

optuna.logging.set_verbosity(optuna.logging.WARNING)

SAMPLERS = {
    "tpe": lambda seed: optuna.samplers.TPESampler(seed=seed, n_startup_trials=3),
    "random": lambda seed: optuna.samplers.RandomSampler(seed=seed),
    "nsgaii": lambda seed: optuna.samplers.NSGAIISampler(seed=seed, population_size=4),
}


def _draw(trial: optuna.Trial) -> tuple:
    return (
        trial.suggest_int("bits", 2, 6),
        trial.suggest_int("time_window", 1, 8),
        trial.suggest_int("num_pes", 4, 256, log=True),
    )


def _workers(path: Path, sampler_of, n_workers: int, rounds: int) -> list[tuple]:
    """``n_workers`` studies on one journal, asking in lockstep as workers started in the
    same instant do; each tells its trial before the next round."""
    storage = JournalStorage(JournalFileBackend(str(path)))
    studies = [
        optuna.create_study(
            study_name="s",
            storage=storage,
            directions=["maximize", "minimize"],
            sampler=sampler_of(),
            load_if_exists=True,
        )
        for _ in range(n_workers)
    ]
    drawn = []
    for _ in range(rounds):
        asked = [(study, study.ask()) for study in studies]
        points = [(study, trial, _draw(trial)) for study, trial in asked]
        for study, trial, point in points:
            study.tell(trial, [point[0] * point[1], point[2] / 10])
            drawn.append(point)
    return drawn


@pytest.mark.parametrize("kind", sorted(SAMPLERS))
def test_workers_started_together_draw_distinct_points(tmp_path: Path, kind: str) -> None:
    make = SAMPLERS[kind]
    alike = _workers(tmp_path / "plain.journal", lambda: make(0), 3, 4)
    # The failure this guards against: one seed per process, same history, same draws.
    assert alike[0] == alike[1] == alike[2]
    drawn = _workers(tmp_path / "per_trial.journal", lambda: SeedPerTrial(make, 0), 3, 4)
    assert len(set(drawn)) == len(drawn) == 12


def test_one_worker_is_reproducible_and_the_seed_matters(tmp_path: Path) -> None:
    make = SAMPLERS["tpe"]
    first = _workers(tmp_path / "a.journal", lambda: SeedPerTrial(make, 7), 1, 10)
    again = _workers(tmp_path / "b.journal", lambda: SeedPerTrial(make, 7), 1, 10)
    other = _workers(tmp_path / "c.journal", lambda: SeedPerTrial(make, 8), 1, 10)
    assert first == again and first != other


def test_trial_seeds_are_distinct_and_stable() -> None:
    seeds = {trial_seed(0, n) for n in range(10_000)}
    assert len(seeds) == 10_000 and all(0 <= s < 2**31 for s in seeds)
    assert trial_seed(3, 5) == trial_seed(3, 5) != trial_seed(5, 3)
