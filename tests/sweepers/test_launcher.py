"""The dse_local launcher gives each job exactly the config Hydra would compose."""

from __future__ import annotations

import pytest
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import ConfigCompositionException
from hydra.types import HydraContext, RunMode
from omegaconf import OmegaConf

from dse.registry.discovery import CONF_DIR
from dse.registry.schema import register_schemas
from dse.runtime.adapters.hydra import callbacks
from hydra_plugins.dse_launcher.dse_launcher import DseLocalLauncher

# The sweeper repeats the command line's own overrides (here experiment=...) in every job.
EXPERIMENT = "experiment=pareto_digits"
JOBS = [
    # what the Optuna sweeper sends: swept values plus its bookkeeping tags
    [
        EXPERIMENT,
        "quantizer.bits=3",
        "coding.time_window=4",
        "hardware.num_pes=17",
        "++tracking.tags.optuna_trial=3",
        "++tracking.tags.optuna_study=pareto_digits",
    ],
    [EXPERIMENT, "hardware.num_pes=200", "training.epochs=2"],
    [EXPERIMENT, "quantizer=uniform", "quantizer.bits=4"],  # a group choice and a key inside it
    [EXPERIMENT, "hardware/technology=45nm", "hardware.num_pes=8"],  # a nested group
    [EXPERIMENT, "hydra.job.chdir=true", "seed=3"],  # Hydra's own node
    [EXPERIMENT, "+extra.key=1", "~training.distill"],  # add and delete
    [EXPERIMENT, "paths.outputs=elsewhere", "cache.enabled=false"],  # interpolated from elsewhere
]


@pytest.fixture(scope="module")
def hydra_setup():
    register_schemas()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()
        master = loader.load_configuration(
            "config",
            overrides=[EXPERIMENT, "hydra.sweeper.n_trials=3"],
            run_mode=RunMode.MULTIRUN,
        )
        launcher = DseLocalLauncher()
        launcher.setup(
            hydra_context=HydraContext(config_loader=loader, callbacks=callbacks()),
            task_function=lambda cfg: None,
            config=master,
        )
        yield loader, master, launcher


def _plain(cfg) -> dict:
    return OmegaConf.to_container(cfg, resolve=False)


@pytest.mark.parametrize("overrides", JOBS, ids=lambda o: " ".join(o)[:40])
def test_job_config_equals_hydras_composition(hydra_setup, overrides):
    loader, master, launcher = hydra_setup
    expected = loader.load_sweep_config(master, list(overrides))
    assert _plain(launcher.job_config(list(overrides))) == _plain(expected)
    # twice: the cached composition is not modified by the first job
    assert _plain(launcher.job_config(list(overrides))) == _plain(expected)


def test_value_only_jobs_compose_once(hydra_setup, monkeypatch):
    loader, master, launcher = hydra_setup
    launcher._composed.clear()
    calls = []
    original = loader.load_sweep_config
    monkeypatch.setattr(loader, "load_sweep_config", lambda m, o: calls.append(o) or original(m, o))
    configs = [launcher.job_config([EXPERIMENT, f"hardware.num_pes={n}"]) for n in (4, 8, 16, 32)]
    assert len(calls) == 1
    assert [c.hardware.num_pes for c in configs] == [4, 8, 16, 32]
    launcher.job_config(
        [EXPERIMENT, "quantizer=uniform", "hardware.num_pes=4"]
    )  # a new group choice
    assert len(calls) == 2


@pytest.mark.parametrize("bad", ["quantizer.bitz=3", "seed=abc", "+seed=1", "~no.such.key"])
def test_bad_overrides_fail_like_hydra(hydra_setup, bad):
    loader, master, launcher = hydra_setup
    overrides = [EXPERIMENT, bad]
    with pytest.raises(ConfigCompositionException) as hydra_error:
        loader.load_sweep_config(master, list(overrides))
    with pytest.raises(ConfigCompositionException) as our_error:
        launcher.job_config(list(overrides))
    assert str(our_error.value) == str(hydra_error.value)
