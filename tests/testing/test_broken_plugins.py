"""Each dse.testing suite fails a deliberately broken plugin of its kind, with a message
naming what broke, in a plain pytest run as a plugin author would start it."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

SUITES = """
from dse.testing import (
    DatasetContract, HardwareModelContract, ModelBuilderContract, SpikeCodingContract,
    TrainingMethodContract, WeightQuantizerContract,
)
from tests.support import faulty_plugins as broken


class TestLabelsFromOne(DatasetContract):
    def make_dataset(self):
        return broken.LabelsFromOne()


class TestDownloading(DatasetContract):
    def make_dataset(self):
        return broken.Downloading()


class TestFixedInputCNN(ModelBuilderContract):
    def make_builder(self):
        return broken.FixedInputCNN()


class TestUnseededTraining(TrainingMethodContract):
    def make_method(self):
        return broken.UnseededTraining(epochs=1, device="cpu")


class TestMeanScaledQuantizer(WeightQuantizerContract):
    def make_quantizer(self):
        return broken.MeanScaledQuantizer()


class TestWrongActivationTTFS(SpikeCodingContract):
    def make_coding(self):
        return broken.WrongActivationTTFS(time_window=4)


class TestNoPoolActivityTTFS(SpikeCodingContract):
    def make_coding(self):
        return broken.NoPoolActivityTTFS()


class TestNegativeLeakage(HardwareModelContract):
    def make_model(self):
        return broken.NegativeLeakage()
"""

# (suite, check) -> what the failure message must say
EXPECTED = {
    ("TestLabelsFromOne", "test_splits_are_typed_and_shaped"): "must be in 0..num_classes-1",
    ("TestDownloading", "test_splits_are_typed_and_shaped"): "opened a network connection",
    ("TestFixedInputCNN", "test_builds_a_valid_architecture"): "build for the input shape",
    ("TestUnseededTraining", "test_is_deterministic_for_a_seed"): "trained different weights",
    ("TestMeanScaledQuantizer", "test_quantizing_twice_changes_nothing"): "is not idempotent",
    (
        "TestWrongActivationTTFS",
        "test_snn_computes_what_the_cat_network_computes",
    ): "predicts differently from the CAT network",
    ("TestNoPoolActivityTTFS", "test_activity_covers_every_workload_layer"): "the workload has 5",
    ("TestNegativeLeakage", "test_report_is_typed_and_consistent"): "breakdown.leakage_uj",
    ("TestNegativeLeakage", "test_a_silent_network_is_priced"): "with no spikes at all",
}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], str | None]:
    """(suite, check) -> failure text, or None for a passed check."""
    folder = tmp_path_factory.mktemp("broken")
    (folder / "test_broken_suites.py").write_text(SUITES)
    report = folder / "report.xml"
    env = {**os.environ, "PYTHONPATH": str(REPO)}  # tests.support.faulty_plugins
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert report.exists(), proc.stdout + proc.stderr
    out: dict[tuple[str, str], str | None] = {}
    for case in ET.parse(report).iter("testcase"):
        suite = case.get("classname", "").rsplit(".", 1)[-1]
        bad = case.find("failure")
        if bad is None:
            bad = case.find("error")
        out[suite, case.get("name", "")] = None if bad is None else (bad.text or "")
    return out


@pytest.mark.parametrize(("check", "message"), list(EXPECTED.items()), ids=lambda v: str(v))
def test_a_broken_plugin_fails_naming_what_broke(outcomes, check, message) -> None:  # noqa: ANN001
    assert check in outcomes, f"{check} did not run; ran: {sorted(outcomes)}"
    failure = outcomes[check]
    assert failure is not None, f"{check} passed on a broken plugin"
    assert message in failure, failure


def test_only_the_broken_promises_fail(outcomes) -> None:  # noqa: ANN001
    # The quantizer keeps signs and shapes: only idempotence (and, through it, nothing
    # else) breaks; the checks that a broken plugin does keep pass.
    for check in [
        ("TestMeanScaledQuantizer", "test_signs_are_kept_or_zeroed"),
        ("TestMeanScaledQuantizer", "test_fake_quantize_is_straight_through"),
        ("TestFixedInputCNN", "test_is_deterministic"),
        ("TestUnseededTraining", "test_untrained_module_loads_the_trained_weights"),
        ("TestNoPoolActivityTTFS", "test_snn_computes_what_the_cat_network_computes"),
        ("TestNegativeLeakage", "test_is_deterministic_and_leaves_the_workload_alone"),
    ]:
        assert outcomes.get(check, "did not run") is None, (check, outcomes.get(check))


def test_asserts_are_rewritten_for_plugin_authors(outcomes) -> None:  # noqa: ANN001
    # pytest shows the compared values under the message: dse.testing registered its
    # modules for assertion rewriting before importing them.
    failure = outcomes["TestMeanScaledQuantizer", "test_quantizing_twice_changes_nothing"]
    assert failure is not None and "assert " in failure and " == 0" in failure, failure
