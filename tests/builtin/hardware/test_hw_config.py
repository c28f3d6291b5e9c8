"""The hardware YAMLs compose with Hydra 1.3 under the root config and instantiate."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf

from dse.builtin.hardware import ANNAccelerator, RateProcessor, TTFSProcessor
from dse.builtin.hardware.zigzag_ann import ZigZagANN

CONF = Path(__file__).resolve().parents[3] / "conf"
CLASSES = {
    "ttfs_processor": TTFSProcessor,
    "rate_processor": RateProcessor,
    "ann_accelerator": ANNAccelerator,
    "ttfs_paper": TTFSProcessor,  # the configuration compared with the paper (bench/)
    "zigzag_ann": ZigZagANN,  # the zigzag extra
}


def _compose_hw(tmp_path: Path, overrides: list[str]):
    """A tiny root config (defaults: - hardware: ttfs_processor) searching the real conf/."""
    (tmp_path / "config.yaml").write_text(
        "defaults:\n  - hardware: ttfs_processor\n  - _self_\n"
        f"hydra:\n  searchpath:\n    - file://{CONF}\n"
    )
    with initialize_config_dir(config_dir=str(tmp_path), version_base="1.3"):
        return compose("config", overrides=overrides)


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_yaml_keys_are_the_constructor_arguments(name: str) -> None:
    cfg = OmegaConf.load(CONF / "hardware" / f"{name}.yaml")
    keys = set(cfg) - {"defaults", "_target_"}
    params = set(inspect.signature(CLASSES[name].__init__).parameters) - {"self"}
    assert keys | {"technology"} == params
    cls = CLASSES[name]
    assert cfg._target_ == f"{cls.__module__}.{cls.__name__}"


def test_composes_under_root_and_instantiates(tmp_path: Path) -> None:
    cfg = _compose_hw(tmp_path, ["hardware.num_pes=64"])
    assert cfg.hardware.technology.name == "28nm"
    hw = instantiate(cfg.hardware)
    assert isinstance(hw, TTFSProcessor) and hw.num_pes == 64 and hw.tech.name == "28nm"


def test_technology_group_override(tmp_path: Path) -> None:
    cfg = _compose_hw(tmp_path, ["hardware=rate_processor", "hardware/technology=45nm"])
    hw = instantiate(cfg.hardware)
    assert isinstance(hw, RateProcessor) and hw.tech.node_nm == 45


def test_single_technology_constant_override(tmp_path: Path) -> None:
    cfg = _compose_hw(tmp_path, ["hardware.technology.leakage_mw_per_mm2=2.0"])
    assert instantiate(cfg.hardware).tech.leakage_mw_per_mm2 == 2.0


def test_real_root_config(compose) -> None:
    """The project's conf/config.yaml (its `- hardware: ttfs_processor` default)."""
    cfg = compose(["hardware/technology=45nm", "hardware.clock_mhz=100"])
    hw = instantiate(cfg.hardware)
    assert isinstance(hw, TTFSProcessor) and hw.tech.name == "45nm" and hw.clock_mhz == 100.0
