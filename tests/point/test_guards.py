"""Run-time guards (dse/point/guards.py): a hardware model's NaN or negative price and a
non-idempotent quantizer stop their design point with one line naming the plugin; in a
grid the other design points run, the finished runs stay, the parent run is FAILED."""

from __future__ import annotations

import dataclasses
import math
import textwrap
from pathlib import Path

import pytest
import torch

from dse.api.errors import PluginError
from dse.builtin.hardware import TTFSProcessor
from dse.builtin.quantizers import LogQuantizer
from dse.point.guards import check_report, guard_quantizer
from dse.testing import example_workload

# --------------------------------------------------------------------------- units


@pytest.fixture(scope="module")
def report():
    return TTFSProcessor().estimate(example_workload())


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"energy_uj": math.nan}, "energy_uj=nan"),
        ({"latency_ms": math.inf}, "latency_ms=inf"),
        ({"area_mm2": -1.0}, "area_mm2=-1.0"),
    ],
)
def test_a_bad_report_names_the_hardware_and_the_field(report, change, named) -> None:  # noqa: ANN001
    with pytest.raises(PluginError) as caught:
        check_report(dataclasses.replace(report, **change), "my_chip", "val")
    message = str(caught.value)
    assert message.startswith(f"hardware=my_chip returned {named} for the val split")
    assert "\n" not in message


def test_a_negative_energy_component_is_refused(report) -> None:  # noqa: ANN001
    breakdown = dataclasses.replace(report.breakdown, leakage_uj=-0.5)
    with pytest.raises(PluginError, match=r"hardware=x returned breakdown\.leakage_uj=-0\.5"):
        check_report(dataclasses.replace(report, breakdown=breakdown), "x", "test")


def test_a_sound_report_passes(report) -> None:  # noqa: ANN001
    check_report(report, "ttfs_processor", "val")


class Drifting(LogQuantizer):
    """A uniform grid whose step is a quarter of the mean |w|: quantizing again moves the
    step (the mean of quantized weights is not the originals'), so the weights move."""

    def quantize(self, weight: torch.Tensor) -> torch.Tensor:
        step = weight.abs().mean() / 4
        return torch.round(weight / step).clamp(-7, 7) * step


def test_a_non_idempotent_quantizer_fails_on_the_first_weights_it_sees() -> None:
    quantizer = Drifting(5)
    guard_quantizer(quantizer, "drifting")
    with pytest.raises(PluginError, match=r"^quantizer=drifting is not idempotent: .* changed"):
        quantizer.fake_quantize(torch.randn(8, 4, 3, 3))


def test_an_idempotent_quantizer_is_checked_once_then_left_alone() -> None:
    quantizer = LogQuantizer(5)
    calls = []
    original = quantizer.quantize

    def counted(weight: torch.Tensor) -> torch.Tensor:
        calls.append(1)
        return original(weight)

    quantizer.quantize = counted  # what the guard wraps: count the plugin's calls
    guard_quantizer(quantizer, "log")
    w = torch.randn(8, 4, 3, 3)
    first = quantizer.quantize(w)
    assert len(calls) == 2  # quantize, and quantize of its result
    assert torch.equal(quantizer.quantize(w), first) and len(calls) == 3
    assert type(quantizer) is LogQuantizer  # the class (and its cache fingerprint) is kept


# --------------------------------------------------------------------------- dse


PLUGINS = '''
import dataclasses

from dse.builtin.hardware import TTFSProcessor
from dse.builtin.quantizers import LogQuantizer


class NaNEnergy(TTFSProcessor):
    """Divides by a count that can be zero."""

    def estimate(self, workload):
        return dataclasses.replace(super().estimate(workload), energy_uj=float("nan"))


class NegativeArea(TTFSProcessor):
    """Subtracts an area credit larger than the array."""

    def estimate(self, workload):
        return dataclasses.replace(super().estimate(workload), area_mm2=-0.25)


class Drifting(LogQuantizer):
    """A uniform grid whose step is a quarter of the mean |w|: not idempotent."""

    def quantize(self, weight):
        step = weight.abs().mean() / 4
        return (weight / step).round().clamp(-7, 7) * step
'''


@pytest.fixture(scope="module")
def user_plugins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("guards")
    (root / "guard_plugins.py").write_text(textwrap.dedent(PLUGINS))
    for group, name, target in [
        ("hardware", "nan_energy", "NaNEnergy"),
        ("hardware", "negative_area", "NegativeArea"),
        ("quantizer", "drifting", "Drifting"),
    ]:
        (root / "conf" / group).mkdir(parents=True, exist_ok=True)
        (root / "conf" / group / f"{name}.yaml").write_text(
            f"_target_: guard_plugins.{target}\n" + ("bits: 5\n" if group == "quantizer" else "")
        )
    return root


def _runs(outputs: Path):
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{outputs}/mlflow.db")
    exp = client.get_experiment_by_name("snn-dse").experiment_id
    return client.search_runs([exp])


def _env(root: Path) -> dict[str, str]:
    import os

    repo = Path(__file__).resolve().parents[2]
    return {"PYTHONPATH": os.pathsep.join([str(root), str(repo)])}


def test_nan_energy_ends_a_design_point_in_one_line(user_plugins: Path, dse_cli) -> None:  # noqa: ANN001
    out = user_plugins / "single"
    done = dse_cli(
        [
            "--config-dir",
            "conf",
            "hardware=nan_energy",
            "training.epochs=0",
            f"paths.outputs={out}",
        ],
        cwd=user_plugins,
        env=_env(user_plugins),
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: hardware=nan_energy returned energy_uj=nan for the "), last
    (run,) = _runs(out)
    assert run.info.status == "FAILED" and "energy_uj" not in run.data.metrics
    assert "energy_uj=nan" in run.data.tags["dse.error"]


def test_a_grid_with_broken_plugins_ends_in_one_line_keeping_finished_runs(
    user_plugins: Path,
    dse_cli,  # noqa: ANN001
) -> None:
    out = user_plugins / "grid"
    done = dse_cli(
        [
            "--config-dir",
            "conf",
            "-m",
            "quantizer=log,drifting",
            "hardware=ttfs_processor,nan_energy,negative_area",
            "training.epochs=0",
            f"paths.outputs={out}",
        ],
        cwd=user_plugins,
        env=_env(user_plugins),
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: 5 of 6 jobs failed; the 1 finished runs are kept."), last
    runs = _runs(out)
    (parent,) = [r for r in runs if r.data.tags.get("dse.kind") == "sweep"]
    assert parent.info.status == "FAILED"
    assert parent.data.tags["dse.error"] == last.removeprefix("error: ")
    children = {
        (r.data.tags["dse.quantizer"], r.data.tags["dse.hardware"]): r
        for r in runs
        if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id
    }
    assert len(children) == 6
    good = children["log", "ttfs_processor"]
    assert good.info.status == "FINISHED" and good.data.metrics["energy_uj"] > 0
    assert good.data.tags["dse.pareto_optimal"] == "true"  # the front of the finished runs
    errors = {k: r.data.tags["dse.error"] for k, r in children.items() if k != good_key(good)}
    assert all(children[k].info.status == "FAILED" for k in errors)
    assert "hardware=nan_energy returned energy_uj=nan" in errors["log", "nan_energy"]
    assert "hardware=negative_area returned area_mm2=-0.25" in errors["log", "negative_area"]
    for hardware in ("ttfs_processor", "nan_energy", "negative_area"):
        assert "quantizer=drifting is not idempotent" in errors["drifting", hardware]


def good_key(run) -> tuple[str, str]:  # noqa: ANN001
    return run.data.tags["dse.quantizer"], run.data.tags["dse.hardware"]
