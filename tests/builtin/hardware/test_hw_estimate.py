"""dse-estimate: assumed activity and the command's output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dse.api.architecture import Architecture, Conv2d, Flatten, Linear, MaxPool2d, static_workload
from dse.api.errors import ConfigError
from dse.cli.estimate import assumed_activity, main, parse_overrides
from tests.support.hardware import tiny_workload


def _static(coding: str = "ttfs_log", t: int = 8):
    arch = Architecture(
        "local",
        (1, 8, 8),
        4,
        (Conv2d(4), MaxPool2d(), Flatten(), Linear(16), Linear(4)),
    )
    return static_workload(
        arch,
        weight_bits=5,
        weight_format="log",
        coding=coding,
        time_window=t,
        accumulator_bits=16,
    )


def test_assumed_activity_follows_the_stated_rule() -> None:
    static = _static()
    w = assumed_activity(static, 0.25, input_rate=0.5)
    conv, pool, fc1, fc2 = w.layers
    assert conv.input_spikes == pytest.approx(0.5 * 64)
    assert conv.synops == pytest.approx(0.5 * 64 * conv.fan_out)
    assert conv.output_spikes == pytest.approx(0.25 * conv.neurons)
    assert pool.input_spikes == conv.output_spikes and pool.synops == 0.0
    assert fc1.input_spikes == pool.output_spikes == pytest.approx(0.25 * pool.neurons)
    assert fc2.output_spikes == 0.0 and not fc2.fires  # read-out does not fire
    assert fc2.synops == pytest.approx(fc1.output_spikes * fc2.fan_out)
    assert all(layer.time_steps == 8 for layer in w.layers)
    assert "0.25" in w.source
    # default input rate: every pixel fires once
    assert assumed_activity(static, 0.25).layers[0].input_spikes == 64


def test_assumed_activity_rejects_impossible_rates() -> None:
    with pytest.raises(ConfigError, match="spike_rate must be in"):
        assumed_activity(_static(), 1.5)  # TTFS: at most one spike per neuron
    w = assumed_activity(_static("rate", 8), 3.0)  # rate: up to T spikes per neuron
    assert w.layers[0].output_spikes == pytest.approx(3.0 * w.layers[0].neurons)


def test_main_prints_a_table(capsys) -> None:
    assert main(["--model", "small_cnn", "--input-size", "8", "--channels", "1"]) == 0
    out = capsys.readouterr().out
    assert "== ttfs_processor" in out and "total" in out and "conv1" in out
    assert "uJ" in out and "latency" in out


def test_main_all_hardware_json_and_overrides(capsys) -> None:
    argv = ["--model", "small_cnn", "--input-size", "8", "--channels", "1", "--json"]
    trio = "ttfs_processor,rate_processor,ann_accelerator"
    assert main([*argv, "--hardware", trio, "--set", "num_pes=8"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert list(data["reports"]) == ["ttfs_processor", "rate_processor", "ann_accelerator"]
    ttfs = data["reports"]["ttfs_processor"]
    assert ttfs["energy_uj"] > 0 and len(ttfs["layers"]) == len(
        data["reports"]["rate_processor"]["layers"]
    )
    assert main([*argv, "--set", "num_pes=64"]) == 0
    wide = json.loads(capsys.readouterr().out)["reports"]["ttfs_processor"]
    assert wide["latency_ms"] < ttfs["latency_ms"]
    assert wide["area_mm2"] > ttfs["area_mm2"]


def test_main_with_workload_file(tmp_path: Path, capsys) -> None:
    path = tmp_path / "workload.json"
    tiny_workload().save(path)
    assert main(["--workload", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["workload"]["source"] == "hand-made"
    assert data["workload"]["total_synops"] == pytest.approx(300)


def test_main_vgg16_cifar(capsys) -> None:
    assert main(["--model", "vgg16", "--hardware", "ttfs_processor,ann_accelerator"]) == 0
    out = capsys.readouterr().out
    assert "vgg16@32x32" in out and "ann_accelerator / ttfs_processor energy" in out


def test_all_means_every_hardware_plugin(capsys) -> None:
    argv = ["--model", "small_cnn", "--input-size", "8", "--channels", "1", "--json"]
    assert main([*argv, "--hardware", "all"]) == 0
    reports = json.loads(capsys.readouterr().out)["reports"]
    assert {"ttfs_paper", "zigzag_ann", "ttfs_processor", "ann_accelerator"} <= set(reports)


def test_a_users_plugins_are_priced(tmp_path: Path, capsys) -> None:
    """A model and a hardware model from the user's --config-dir, with overrides of both,
    validated as dse validates them."""
    (tmp_path / "hardware").mkdir()
    (tmp_path / "model").mkdir()
    (tmp_path / "hardware" / "narrow.yaml").write_text(
        "defaults:\n  - ttfs_processor\n  - _self_\nnum_pes: 4\n"
    )
    (tmp_path / "model" / "tiny.yaml").write_text(
        "_target_: dse.builtin.models.small_cnn.SmallCNN\nchannels: [4]\npool_after: [1]\n"
    )
    argv = ["--config-dir", str(tmp_path), "--model", "tiny", "--input-size", "8"]
    assert main([*argv, "--channels", "1", "--hardware", "narrow", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert list(data["reports"]) == ["narrow"] and data["workload"]["total_weights"] > 0
    assert (
        main([*argv, "--channels", "1", "--hardware", "narrow", "--set", "model.channels=[4,4]"])
        == 0
    )
    assert main([*argv, "--channels", "1", "--hardware", "narrow", "--set", "num_pes=0"]) == 2
    assert "hardware.num_pes must be >= 1 (got 0)" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--set", "num_pes=0"], "hardware.num_pes must be >= 1 (got 0)"),
        (["--set", "technology=7nm"], "hardware.technology must be one of"),
        (["--set", "no_such_key=1"], "no_such_key"),
        (["--hardware", "no_such_model"], "hardware=no_such_model: no such plugin"),
        (["--model", "no_such_net"], "model=no_such_net: no such plugin"),
        (["--spike-rate", "2"], "spike_rate must be in [0, 1]"),
    ],
)
def test_main_reports_config_errors(argv, message, capsys) -> None:
    base = ["--model", "small_cnn", "--input-size", "8", "--channels", "1"]
    assert main([*base, *argv]) == 2
    assert message in capsys.readouterr().err


def test_dse_overrides_print_the_figures_of_the_earlier_flags(capsys) -> None:
    """``dse``'s grammar and the flags it replaces are one command: same figures, to the
    character (the table, the totals, the band)."""
    assert main(["model=vgg16", "hardware=ann_accelerator", "hardware.num_pes=64"]) == 0
    hydra_form = capsys.readouterr().out
    assert main(["--model", "vgg16", "--hardware", "ann_accelerator", "--set", "num_pes=64"]) == 0
    assert capsys.readouterr().out == hydra_form
    assert "== ann_accelerator: 64 PEs" in hydra_form and "vgg16@32x32" in hydra_form
    # 64 PEs is not the default: the override reached the hardware model
    assert main(["model=vgg16", "hardware=ann_accelerator"]) == 0
    assert "== ann_accelerator: 64 PEs" not in capsys.readouterr().out


def test_overrides_choose_plugins_and_keys_in_any_order(capsys) -> None:
    argv = ["--json", "hardware/technology=45nm", "model=small_cnn", "--input-size", "8"]
    argv += ["hardware=ttfs_processor,ann_accelerator", "model.channels=[4,8]", "--channels", "1"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert list(data["reports"]) == ["ttfs_processor", "ann_accelerator"]
    assert data["workload"]["total_weights"] == 4 * 9 + 8 * 4 * 9 + 8 * 4 * 4 * 10  # no bias
    chosen = parse_overrides(["model=vgg16", "+model.x=1", "~hardware.calibration"])
    assert chosen.model == "vgg16" and chosen.hardware == "ttfs_processor"
    assert chosen.model_overrides == ("+model.x=1",)
    assert chosen.hardware_overrides == ("~hardware.calibration",)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["coding.time_window=4"], "builds only the model and the hardware"),
        (["coding.time_window=4"], "give it as --time-window 4"),
        (["quantizer=uniform"], "give it as --weight-format uniform"),
        (["dataset=cifar10"], "--input-size, --channels and --num-classes"),
        (["model"], "'model' is not an override: write group=option or key=value"),
        (["model=a,b"], "model must name one model"),
        (["hardware.num_pes=8,64"], "takes one value here"),
        (["--model", "vgg16", "model=small_cnn"], "model is chosen twice (model=vgg16)"),
        (["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    ],
)
def test_bad_command_lines_end_in_one_line_before_any_work(argv, message, capsys) -> None:
    try:
        code = main(argv)
    except SystemExit as refused:  # argparse's own refusals exit
        code = refused.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
