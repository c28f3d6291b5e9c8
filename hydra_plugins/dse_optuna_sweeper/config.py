"""Structured configs of the sweeper and its samplers, stored in Hydra's ConfigStore.

Select the sweeper with ``override hydra/sweeper: dse_optuna`` in an experiment config
(or ``hydra/sweeper=dse_optuna`` on the command line), and a sampler with
``hydra/sweeper/sampler=<name>``: ``tpe`` (default), ``nsgaii``, ``nsgaiii``, ``gp``,
``random``, ``bruteforce``. Any Optuna sampler works through its ``_target_``:
``hydra.sweeper.sampler._target_=optuna.samplers.QMCSampler``.

Each sampler's ``seed`` follows the top-level ``seed`` key when there is one. On resume
the sweeper adds the number of trials already in the study to it (see the sweeper's
docstring), so a resumed seeded sampler does not propose the first run's points again.
"""

# No `from __future__ import annotations`: Hydra's plugin scan executes this module outside
# sys.modules, where dataclasses cannot resolve string annotations.
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore

# Optional top-level seed: None when the task's config has no `seed`.
SEED = "${oc.select:seed,null}"


@dataclass
class TPESamplerConfig:
    """Tree-structured Parzen estimator: Optuna's default, multi-objective capable."""

    _target_: str = "optuna.samplers.TPESampler"
    seed: Any = SEED
    n_startup_trials: int = 10  # Optuna's default: random trials before TPE takes over
    multivariate: bool = True  # joint density over parameters (better on coupled knobs)
    constant_liar: bool = True  # batches (n_jobs > 1) spread out instead of piling up


@dataclass
class NSGAIISamplerConfig:
    """NSGA-II genetic algorithm (multi-objective)."""

    _target_: str = "optuna.samplers.NSGAIISampler"
    seed: Any = SEED
    population_size: int = 50  # Optuna's default


@dataclass
class NSGAIIISamplerConfig:
    """NSGA-III (reference-point based; for 3+ objectives)."""

    _target_: str = "optuna.samplers.NSGAIIISampler"
    seed: Any = SEED
    population_size: int = 50  # Optuna's default


@dataclass
class GPSamplerConfig:
    """Gaussian-process Bayesian optimisation (needs torch and scipy)."""

    _target_: str = "optuna.samplers.GPSampler"
    seed: Any = SEED
    n_startup_trials: int = 10  # Optuna's default


@dataclass
class RandomSamplerConfig:
    """Uniform random search (the baseline)."""

    _target_: str = "optuna.samplers.RandomSampler"
    seed: Any = SEED


@dataclass
class BruteForceSamplerConfig:
    """Every combination once (discrete spaces only: choice, range, int(interval))."""

    _target_: str = "optuna.samplers.BruteForceSampler"
    seed: Any = SEED


SAMPLERS = {
    "tpe": TPESamplerConfig,
    "nsgaii": NSGAIISamplerConfig,
    "nsgaiii": NSGAIIISamplerConfig,
    "gp": GPSamplerConfig,
    "random": RandomSamplerConfig,
    "bruteforce": BruteForceSamplerConfig,
}


@dataclass
class FidelityConf:
    """Multi-fidelity search (dse.front.fidelity): every trial first runs with ``key`` =
    ``low`` (e.g. key training.stop_epoch, low 1: CAT's first epoch); those among the best
    1/``eta`` of all low-fidelity results so far resume to full fidelity, the rest stop."""

    key: Any = None  # None: every trial at full fidelity
    low: int = 1
    eta: float = 3.0


@dataclass
class DseOptunaSweeperConf:
    """``hydra.sweeper`` keys of :class:`DseOptunaSweeper` (its constructor's arguments)."""

    _target_: str = "hydra_plugins.dse_optuna_sweeper.dse_optuna_sweeper.DseOptunaSweeper"
    defaults: list[Any] = field(default_factory=lambda: ["_self_", {"sampler": "tpe"}])
    # The sweeper builds the sampler itself (its seed depends on the study's history).
    _recursive_: bool = False
    sampler: Any = None
    # Search space, hydra-optuna-sweeper syntax, e.g. {quantizer.bits: "choice(3,4,5)"}.
    params: dict[str, str] | None = None
    n_trials: int = 20  # trials added by this invocation (a resumed study keeps its old ones)
    n_jobs: int = 1  # trials asked from the sampler and launched together per batch
    # A journal file (fast, one per outputs folder), or a database URL such as
    # sqlite:///outputs/optuna.db; None keeps the study in memory (no resume).
    storage: str | None = "${paths.outputs}/optuna.journal"
    study_name: str = "dse"
    load_if_exists: bool = True  # resume a study of the same name; False: refuse to
    max_failure_rate: float = 0.5  # stop once failed trials exceed this share of n_trials
    fidelity: FidelityConf = field(default_factory=lambda: FidelityConf())


def register() -> None:
    store = ConfigStore.instance()
    store.store(
        group="hydra/sweeper", name="dse_optuna", node=DseOptunaSweeperConf, provider="snn-dse"
    )
    for name, node in SAMPLERS.items():
        store.store(group="hydra/sweeper/sampler", name=name, node=node, provider="snn-dse")


register()
