"""Plugin discovery: built-in configs, users' config dirs and entry points."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import dse.plugins
import pytest
from hydra.utils import instantiate

from dse.api.errors import PluginError
from dse.registry.discovery import available_plugins, register_entry_point_plugins


def test_builtins_are_listed_with_their_docstring(tmp_path):
    plugins = available_plugins()
    names = {group: {p.name for p in infos} for group, infos in plugins.items()}
    assert {"log", "uniform", "float"} <= names["quantizer"]
    log = next(p for p in plugins["quantizer"] if p.name == "log")
    assert log.target == "dse.builtin.quantizers.log.LogQuantizer"
    assert log.description()  # the first docstring line


def test_a_users_config_dir_adds_options(tmp_path):
    (tmp_path / "quantizer").mkdir()
    (tmp_path / "quantizer" / "mine.yaml").write_text(
        "_target_: tests.support.broken_plugins.HalfAQuantizer\n"
    )
    names = [p.name for p in available_plugins([tmp_path])["quantizer"]]
    assert "mine" in names and "log" in names


def _fake_entry_points(points):
    def entry_points(group):
        assert group == dse.registry.discovery.ENTRY_POINT_GROUP
        return points

    return entry_points


def test_entry_point_plugins_compose_by_name(monkeypatch, compose):
    point = EntryPoint(
        name="quantizer.log3",
        value="dse.builtin.quantizers.log:LogQuantizer",
        group="snn_dse.plugins",
    )
    monkeypatch.setattr(dse.registry.discovery, "entry_points", _fake_entry_points([point]))
    register_entry_point_plugins()
    cfg = compose(["quantizer=log3", "quantizer.bits=3"])
    quantizer = instantiate(cfg.quantizer)
    assert type(quantizer).__name__ == "LogQuantizer" and quantizer.storage_bits == 3
    listed = {p.name: p for p in available_plugins()["quantizer"]}
    assert listed["log3"].source.startswith("entry point")


def test_bad_entry_points_are_refused(monkeypatch):
    bad_name = EntryPoint(name="quantiser.x", value="a:B", group="snn_dse.plugins")
    monkeypatch.setattr(dse.registry.discovery, "entry_points", _fake_entry_points([bad_name]))
    with pytest.raises(PluginError, match="<group>.<name>"):
        register_entry_point_plugins()
    not_a_plugin = EntryPoint(
        name="quantizer.x",
        value="tests.support.broken_plugins:NotAQuantizer",
        group="snn_dse.plugins",
    )
    monkeypatch.setattr(dse.registry.discovery, "entry_points", _fake_entry_points([not_a_plugin]))
    with pytest.raises(PluginError, match="does not implement"):
        register_entry_point_plugins()
