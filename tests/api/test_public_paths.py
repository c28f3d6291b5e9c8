"""The import paths plugin authors and users' code have today keep working after the code
moved into folders: each gives the module or object of the new home, not a copy."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

import pytest

import dse.api
from dse import _moved

PUBLIC = ["interfaces", "network", "coding", "architecture", "workload", "errors", "data"]


@pytest.mark.parametrize("name", PUBLIC)
def test_public_paths_are_the_api_modules(name: str) -> None:
    old = importlib.import_module(f"dse.{name}")
    assert old is importlib.import_module(f"dse.api.{name}")
    assert getattr(importlib.import_module("dse"), name) is old


@pytest.mark.parametrize("old", sorted(_moved.MOVED))
def test_old_internal_paths_are_the_moved_modules(old: str) -> None:
    module = importlib.import_module(old)
    assert module is importlib.import_module(_moved.MOVED[old])
    assert module.__name__ == _moved.MOVED[old]


def test_names_plugin_authors_import_resolve_to_their_homes() -> None:
    from dse.plugins import CONF_DIR, compose_plugin

    from dse.architecture import Architecture
    from dse.coding import FixedPointCoding
    from dse.errors import ConfigError, require
    from dse.interfaces import HardwareModel, SpikeCoding
    from dse.network import Network, SpikingNetwork
    from dse.workload import Workload

    assert HardwareModel is dse.api.HardwareModel and SpikeCoding is dse.api.SpikeCoding
    assert Workload is dse.api.Workload and Architecture is dse.api.Architecture
    assert Network is dse.api.Network and SpikingNetwork is dse.api.SpikingNetwork
    assert FixedPointCoding is dse.api.FixedPointCoding
    assert ConfigError is dse.api.ConfigError and require is dse.api.require
    assert (CONF_DIR / "config.yaml").is_file() and callable(compose_plugin)


def test_every_name_of_dse_api_resolves() -> None:
    assert len(dse.api.__all__) > 40
    for name in dse.api.__all__:
        assert getattr(dse.api, name) is not None, name
    with pytest.raises(AttributeError):
        dse.api.NotAName  # noqa: B018


def test_the_sweep_callback_named_in_the_config_and_the_cli_names() -> None:
    from hydra.utils import get_class

    from dse.tracking import runs

    assert get_class("dse.tracking.SweepCallback") is runs.SweepCallback
    from dse.cli import set_torch_threads
    from dse.cli.app import set_torch_threads as home

    assert set_torch_threads is home


def test_console_scripts_load() -> None:
    scripts = {
        ep.name: ep for ep in entry_points(group="console_scripts") if ep.name.startswith("dse")
    }
    assert {"dse", "dse-estimate"} <= set(scripts)
    assert callable(scripts["dse"].load()) and callable(scripts["dse-estimate"].load())
