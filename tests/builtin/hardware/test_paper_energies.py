"""The paper's three VGG-16 energies from one configuration and one activity assumption
(bench/paper_energies.py prints the table; docs/HARDWARE.md quotes it)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench" / "paper_energies.py"


@pytest.fixture(scope="module")
def table():
    spec = importlib.util.spec_from_file_location("paper_energies", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["paper_energies"] = module  # dataclasses resolve annotations through it
    spec.loader.exec_module(module)
    rows, kappa, hw = module.paper_table()
    return {r.dataset: r for r in rows}, kappa, hw, module


def test_one_stated_configuration_and_activity(table) -> None:
    rows, kappa, hw, module = table
    assert module.SPIKE_RATE == 0.1  # dse.cli.estimate's default, stated before any comparison
    from dse.cli.estimate import DEFAULT_SPIKE_RATE

    assert module.SPIKE_RATE == DEFAULT_SPIKE_RATE
    assert (hw.num_pes, hw.weight_sram_kb, hw.position_parallel) == (256, 2048.0, 16)
    assert hw.tech.name == "28nm"


def test_uncalibrated_targets(table) -> None:
    """Issue 22: with no calibration, each of the paper's three energies within +-25 %
    (before the clock, register and wire model: -56.6 / -58.0 / -58.7 %), and
    Tiny-ImageNet / CIFAR-10 within +-15 % of 2.93; each paper figure inside its band."""
    rows, _, hw, _ = table
    assert hw.calibration is None  # ttfs_paper.yaml: uncalibrated
    for r in rows.values():
        assert abs(r.uncalibrated_error) <= 0.25, (r.dataset, r.uncalibrated_error)
        assert r.low_uj < r.model_uj < r.high_uj
        assert r.low_uj <= r.paper_uj <= r.high_uj, r.dataset
    c10, tiny = rows["CIFAR-10"], rows["Tiny-ImageNet"]
    paper_ratio = 1426.0 / 486.7
    assert abs(tiny.model_uj / c10.model_uj / paper_ratio - 1) <= 0.15


def test_optional_calibration_on_cifar10(table) -> None:
    """The calibrated reading (kappa fitted on CIFAR-10) is printed beside: it predicts the
    other two within +-25 % too."""
    rows, kappa, _, _ = table
    assert rows["CIFAR-10"].kappa_uj == pytest.approx(486.7)  # the calibration point
    assert abs(rows["CIFAR-100"].error) <= 0.25
    assert abs(rows["Tiny-ImageNet"].error) <= 0.25


def test_scan_fire_costs_more(table) -> None:
    """fire: scan reads every potential at each of the 8 steps: more energy than the
    leading-one fire on every dataset."""
    rows, _, _, _ = table
    for r in rows.values():
        assert r.scan_uj > r.model_uj


def test_fixed_and_activity_parts(table) -> None:
    rows, _, _, _ = table
    for r in rows.values():
        assert r.fixed_uj > 0 and r.activity_uj > 0
        assert r.fixed_uj + r.activity_uj == pytest.approx(r.model_uj)
    # the fixed part is what makes the chip scale less than the 4x pixels: a real share
    c10 = rows["CIFAR-10"]
    assert 0.2 < c10.fixed_uj / c10.model_uj < 0.6
    # weights are fetched once per inference: DRAM close to the weight bits x 20.3 pJ
    assert rows["CIFAR-10"].dram_uj == pytest.approx(14_977_728 * 5 * 20.3125e-6, rel=0.01)


def test_kappa_is_what_the_model_misses(table) -> None:
    """kappa = paper / model at CIFAR-10: close to 1 now that clock, registers and wires
    are modelled (it was 2.30 before issue 22)."""
    rows, kappa, _, _ = table
    assert 0.8 < kappa < 1.34
    assert rows["CIFAR-10"].model_uj == pytest.approx(486.7 / kappa)
