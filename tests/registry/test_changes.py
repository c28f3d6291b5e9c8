"""What a composed config changes from its named plugin configs (dse.registry.changes)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser

from dse.registry.changes import changed_groups, config_changes, override_text
from dse.registry.discovery import CONF_DIR
from dse.registry.schema import register_schemas


def composed(overrides: list[str], config_dir: Path | None = None):
    """The config dse composes from ``overrides`` and its group choices."""
    register_schemas()
    extra = [f"hydra.searchpath=[file://{config_dir}]"] if config_dir else []
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        full = compose("config", overrides=[*overrides, *extra], return_hydra_config=True)
        cfg = compose("config", overrides=[*overrides, *extra])
    return cfg, dict(full.hydra.runtime.choices), list(full.hydra.searchpath)


def test_changed_model_keys_are_the_overrides_that_rebuild_the_network() -> None:
    overrides = ["model=fashion_cnn", "model.pool_after=[2,4]", "model.batch_norm=false"]
    cfg, choices, _ = composed(overrides)
    changes = config_changes(cfg, choices)
    assert changes == {"model.pool_after": "[2,4]", "model.batch_norm": "false"}
    assert changed_groups(changes) == {"model"}
    # Written back on the command line, they compose the same network.
    again, _, _ = composed(["model=fashion_cnn", *(override_text(*c) for c in changes.items())])
    assert again.model == cfg.model


def test_an_override_to_the_files_own_value_is_no_change() -> None:
    cfg, choices, _ = composed(["model.channels=[16,32,32]", "quantizer.bits=5"])
    assert config_changes(cfg, choices) == {}


def test_an_experiments_keys_count_and_a_command_line_group_wins() -> None:
    cfg, choices, _ = composed(["experiment=fashion", "model=fashion_cnn"])
    changes = config_changes(cfg, choices)
    assert choices["model"] == "fashion_cnn"  # the command line's choice beats the experiment's
    assert changes["training.epochs"] == "4" and changes["training.init"] == "standard"
    assert changed_groups(changes) == {"training"}


def test_a_nested_choice_is_one_change_and_deletions_are_named() -> None:
    cfg, choices, _ = composed(["hardware/technology=45nm", "hardware.num_pes=8", "~model.hidden"])
    changes = config_changes(cfg, choices)
    assert changes == {
        "~model.hidden": None,
        "hardware/technology": "45nm",
        "hardware.num_pes": "8",
    }
    assert [override_text(*c) for c in changes.items()][0] == "~model.hidden"


@pytest.mark.parametrize(
    "value",
    ["plain", "two words", "true", "1.5", "a,b", "it's", None, True, 3, 0.0003, [1, [2, "x y"]]],
)
def test_values_are_written_as_hydra_reads_them_back(tmp_path: Path, value) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "mine.yaml").write_text(
        "_target_: dse.builtin.models.small_cnn.SmallCNN\nnote: 0\n"
    )
    cfg, choices, searchpath = composed(["model=mine"], tmp_path)
    cfg.model.note = value
    (text,) = config_changes(cfg, choices, searchpath).values()
    (parsed,) = OverridesParser.create().parse_overrides([f"model.note={text}"])
    assert parsed.value() == value
