"""Bad input fails fast with one clear message, before any work (issue: bad input)."""

from __future__ import annotations

import pytest
from hydra.errors import ConfigCompositionException, MissingConfigException
from omegaconf import OmegaConf

from dse.api.errors import ConfigError, PluginError, TrackingError
from dse.point.pipeline import build_plugins
from dse.registry.schema import check_plugin_config, check_top_level
from dse.tracking.runs import connect


def test_unknown_plugin_name_lists_the_valid_choices(compose):
    with pytest.raises(MissingConfigException) as err:
        compose(["quantizer=logarithmic"])
    message = str(err.value)
    assert "quantizer/logarithmic" in message
    for option in ("float", "log", "uniform"):
        assert option in message


def test_typo_in_a_plugin_key_fails_at_composition(compose):
    with pytest.raises(ConfigCompositionException, match="bitz"):
        compose(["quantizer.bitz=3"])


def test_wrong_top_level_type_fails_at_composition(compose):
    with pytest.raises(ConfigCompositionException, match="seed"):
        compose(["seed=abc"])


def test_wrong_plugin_type_names_group_and_key(compose):
    cfg = compose(["quantizer.bits=abc"])
    with pytest.raises(ConfigError, match=r"quantizer\.bits"):
        check_plugin_config("quantizer", cfg.quantizer)


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("quantizer.bits=0", "quantizer.bits"),
        ("coding.time_window=0", "coding.time_window"),
        ("hardware.num_pes=0", "hardware.num_pes"),
        ("training.epochs=-1", "training.epochs"),
    ],
)
def test_out_of_range_values_name_the_field(compose, override, field):
    cfg = compose([override])
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        build_plugins(cfg)


def test_every_builtin_composition_validates(compose):
    build_plugins(compose())


def test_a_class_outside_the_interface_is_refused():
    node = OmegaConf.create({"_target_": "tests.support.broken_plugins.NotAQuantizer"})
    with pytest.raises(PluginError, match="does not implement dse.interfaces.WeightQuantizer"):
        check_plugin_config("quantizer", node)
    node = OmegaConf.create({"_target_": "tests.support.broken_plugins.HalfAQuantizer", "bits": 4})
    with pytest.raises(PluginError, match="storage_bits"):
        check_plugin_config("quantizer", node)


def test_an_unimportable_target_says_what_to_check():
    node = OmegaConf.create({"_target_": "no_such_module.Quantizer"})
    with pytest.raises(PluginError, match="cannot be imported"):
        check_plugin_config("quantizer", node)


def test_bad_objective_direction_is_refused(compose):
    cfg = compose(["search.objectives.0.direction=up"])
    with pytest.raises(ConfigError, match="maximize"):
        check_top_level(cfg)


def test_unreachable_tracking_server_fails_fast():
    with pytest.raises(TrackingError, match="unreachable"):
        connect("http://127.0.0.1:9")  # discard port: nothing listens
    with pytest.raises(TrackingError, match="file store"):
        connect("./mlruns")


def test_plugins_are_built_directly_unless_the_config_nests_objects():
    from fractions import Fraction

    from dse.builtin.quantizers.uniform import UniformQuantizer
    from dse.registry.schema import construct

    target = "dse.builtin.quantizers.uniform.UniformQuantizer"
    plain = construct(UniformQuantizer, {"_target_": target, "bits": 3})
    assert isinstance(plain, UniformQuantizer) and plain.bits == 3
    # A nested _target_ is Hydra's to build (the class argument is not used then).
    nested = {"_target_": "builtins.dict", "inner": {"_target_": "fractions.Fraction"}}
    assert construct(dict, nested) == {"inner": Fraction(0)}


def test_average_pooling_under_ttfs_log_is_one_line_before_any_training(tmp_path):
    from tests.support.services import run_dse

    done = run_dse(["model.pool=avg", f"paths.outputs={tmp_path}/outputs"], cwd=tmp_path)
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "model.pool=max" in lines[0], done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert "epoch" not in done.stderr  # no training bar: refused before the train stage
    assert not (tmp_path / "outputs" / "cache" / "training").exists()
