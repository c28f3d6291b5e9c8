"""torch threads per design point: the config's, or the cores shared among parallel jobs."""

from __future__ import annotations

import os

import pytest
import torch
from omegaconf import OmegaConf

from dse.cli.app import set_torch_threads


@pytest.fixture(autouse=True)
def _restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def _hydra(launcher: str, n_jobs: int):
    return OmegaConf.create({"launcher": {"_target_": launcher}, "sweeper": {"n_jobs": n_jobs}})


def test_explicit_threads_win() -> None:
    assert set_torch_threads(1, _hydra("hydra_plugins.hydra_joblib_launcher.X", 4)) == 1
    assert torch.get_num_threads() == 1


def test_parallel_jobs_share_the_cores() -> None:
    cores = os.cpu_count() or 1
    joblib = "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"
    assert set_torch_threads(0, _hydra(joblib, 2)) == max(1, cores // 2)
    assert set_torch_threads(0, _hydra(joblib, 64)) == 1


def test_sequential_jobs_keep_torchs_default() -> None:
    torch.set_num_threads(2)
    local = "hydra_plugins.dse_launcher.dse_launcher.DseLocalLauncher"
    assert set_torch_threads(0, _hydra(local, 4)) == 2 == torch.get_num_threads()


def test_negative_threads_are_one_line(compose) -> None:
    from dse.api.errors import ConfigError
    from dse.registry.schema import check_top_level

    with pytest.raises(ConfigError, match="threads must be >= 0"):
        check_top_level(compose(["threads=-1"]))
