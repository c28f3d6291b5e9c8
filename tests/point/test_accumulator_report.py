"""A design point whose accumulator truncates or saturates says so: metrics, summary, tag."""

from __future__ import annotations

import pytest

from dse.api.interfaces import AccumulatorActivity
from dse.builtin.hardware import TTFSProcessor
from dse.point import report
from dse.point.pipeline import DesignPointResult, Measurement
from dse.testing import example_workload


def _result(val: AccumulatorActivity | None, test: AccumulatorActivity | None) -> DesignPointResult:
    workload = example_workload()
    hw = TTFSProcessor().estimate(workload)
    measurements = {
        "val": Measurement(95.0, 95.0, workload, val),
        "test": Measurement(94.0, 94.0, workload, test),
    }
    return DesignPointResult(measurements, {"val": hw, "test": hw}, {"training": "miss"})


def _summary(result: DesignPointResult) -> str:
    return report.summary({}, result.metrics, result.cache_use, "nowhere")


EXACT = AccumulatorActivity(0.0, 0.0)


@pytest.mark.parametrize(
    ("val", "test", "status"),
    [
        (EXACT, EXACT, "exact"),
        (AccumulatorActivity(12.5, 0.0), EXACT, "truncates"),
        (EXACT, AccumulatorActivity(0.0, 0.25), "saturates"),
        (AccumulatorActivity(3.0, 1.0), EXACT, "truncates+saturates"),
    ],
)
def test_status_metrics_and_summary_line(
    val: AccumulatorActivity, test: AccumulatorActivity, status: str
) -> None:
    result = _result(val, test)
    assert result.accumulator_status == status
    m = result.metrics
    assert m["truncated_products"] == m["val_truncated_products"] == val.truncated_products
    assert m["test_saturated_neurons"] == test.saturated_neurons
    (line,) = [ln for ln in _summary(result).splitlines() if ln.startswith("  accumulator")]
    if status == "exact":
        assert "exact" in line
    else:
        assert f"truncates {val.truncated_products:.4g} products" in line
        assert f"saturates {val.saturated_neurons:.4g} neurons" in line


def test_codings_that_do_not_measure_it_add_nothing() -> None:
    result = _result(None, None)
    assert result.accumulator_status is None
    assert not any("truncated" in k or "saturated" in k for k in result.metrics)
    assert "accumulator" not in _summary(result)


def test_measurement_round_trips_through_the_cache_payload() -> None:
    m = Measurement(90.0, 89.5, example_workload(), AccumulatorActivity(7.0, 0.5))
    assert Measurement.from_dict(m.to_dict()) == m
    bare = Measurement(90.0, 89.5, example_workload())
    assert Measurement.from_dict(bare.to_dict()).accumulator is None


@pytest.mark.slow
def test_accumulator_width_is_a_sweepable_key(tmp_path) -> None:  # noqa: ANN001
    """`dse -m coding.accumulator_bits=12,16 coding.frac_bits=8`: two trained points, each
    converted without loss, each tagged with what its accumulator did."""
    from mlflow import MlflowClient

    from tests.support.services import run_dse

    args = ["-m", "coding.accumulator_bits=12,16", "coding.frac_bits=8", "training.epochs=1"]
    done = run_dse([*args, f"paths.outputs={tmp_path}/outputs"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/outputs/mlflow.db")
    exp = client.get_experiment_by_name("snn-dse")
    children = [
        r for r in client.search_runs([exp.experiment_id]) if "mlflow.parentRunId" in r.data.tags
    ]
    assert sorted(r.data.params["coding.accumulator_bits"] for r in children) == ["12", "16"]
    for run in children:
        assert run.info.status == "FINISHED"
        assert run.data.metrics["conversion_loss"] == 0.0
        assert run.data.metrics["test_conversion_loss"] == 0.0
        # 8 fractional bits drop the products of small log weights and late spikes
        assert run.data.metrics["truncated_products"] > 0
        assert run.data.tags["dse.accumulator"].startswith("truncates")
