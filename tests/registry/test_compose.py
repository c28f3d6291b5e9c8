"""The real conf/ composes for every option of every group, and every plugin builds."""

from __future__ import annotations

import pytest
from hydra.utils import instantiate

from dse.api.interfaces import PLUGIN_KINDS
from dse.registry.discovery import CONF_DIR
from dse.registry.schema import check_plugin_config

OPTIONS = [
    (group, path.stem)
    for group in PLUGIN_KINDS
    for path in sorted((CONF_DIR / group).glob("*.yaml"))
]


def test_every_group_has_its_public_options():
    found = {}
    for group, name in OPTIONS:
        found.setdefault(group, set()).add(name)
    assert found["dataset"] >= {"digits", "synthetic", "cifar10", "cifar100", "tiny_imagenet"}
    assert found["model"] >= {"small_cnn", "vgg16"}
    assert found["training"] >= {"cat", "standard"}
    assert found["quantizer"] >= {"log", "uniform", "float"}
    assert found["coding"] >= {"ttfs_log", "rate"}
    assert found["hardware"] >= {"ttfs_processor", "rate_processor", "ann_accelerator"}


@pytest.mark.parametrize(("group", "name"), OPTIONS, ids=[f"{g}={n}" for g, n in OPTIONS])
def test_option_composes_and_instantiates(compose, group, name):
    cfg = compose([f"{group}={name}"])
    cls = check_plugin_config(group, cfg[group])
    plugin = instantiate(cfg[group], _convert_="all")
    assert isinstance(plugin, cls) and isinstance(plugin, PLUGIN_KINDS[group])


def test_default_composition_is_the_papers_chain(compose):
    cfg = compose(return_hydra_config=True)
    choices = cfg.hydra.runtime.choices
    assert [choices[g] for g in PLUGIN_KINDS] == [
        "digits",
        "small_cnn",
        "cat",
        "log",
        "ttfs_log",
        "ttfs_processor",
    ]
    assert cfg.quantizer.bits == 5
    assert cfg.tracking.uri == "sqlite:///outputs/mlflow.db"


def test_experiments_compose(compose):
    for path in sorted((CONF_DIR / "experiment").glob("*.yaml")):
        cfg = compose([f"experiment={path.stem}"], return_hydra_config=True)
        assert cfg.hydra.sweeper is not None


def test_fashion_standard_is_the_network_experiment_fashion_fine_tunes(compose, tmp_path):
    """experiment=fashion_standard trains exactly experiment=fashion's pretraining: one
    cache key, so the float row and every CAT design point share one trained network; a
    CAT-stage key changes neither."""
    from dse.point.cache import StageCache
    from dse.point.pipeline import DesignPoint, build_plugins

    def pretraining_key(overrides: list[str]) -> str:
        cfg = compose(overrides)
        plugins = build_plugins(cfg)
        method = plugins.training.pretraining() or plugins.training
        return DesignPoint(cfg, plugins, StageCache(tmp_path)).pretraining_key(method)

    fashion = pretraining_key(["experiment=fashion"])
    assert fashion == pretraining_key(["experiment=fashion_standard"])
    assert fashion == pretraining_key(
        ["experiment=fashion", "training.lr=0.01", "training.epochs=9"]
    )
    assert fashion != pretraining_key(["experiment=fashion", "training.pretrain.lr=0.01"])
    assert fashion != pretraining_key(["experiment=fashion", "model.pool=avg"])


@pytest.mark.parametrize(
    "line",
    [
        ["experiment=fashion", "model=fashion_cnn", "training.epochs=9"],
        ["training.epochs=9", "model=fashion_cnn", "experiment=fashion"],
    ],
)
def test_override_order_is_the_documented_one(compose, line):
    """docs/PLUGINS.md, "Which value wins": defaults, then the experiment, then the command
    line's group choices, then its keys, wherever each stands on the line."""
    cfg = compose(line, return_hydra_config=True)
    assert cfg.hydra.runtime.choices.model == "fashion_cnn"  # the experiment picks fashion_vgg
    assert cfg.training.epochs == 9  # the experiment sets 4
    assert cfg.training.init == "standard"  # the experiment's key beats cat.yaml's scratch
    assert cfg.model.channels == [32, 32, 64, 64]  # fashion_cnn's file, untouched
