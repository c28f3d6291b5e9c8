"""Pre-screening and multi-fidelity on the real `dse -m` (digits, tiny recipe, every
point of a 4-point space by the brute-force sampler)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from hydra_plugins.dse_optuna_sweeper.dse_optuna_sweeper import optuna_storage

REPO = Path(__file__).resolve().parents[2]


def _command(out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "dse.cli",
        "-m",
        "experiment=pareto_digits",
        f"paths.outputs={out}",
        "threads=1",
        "model.channels=[4,8]",
        "training.epochs=2",
        "training.pretrain.epochs=1",
        "search.reference=null",
        # no accuracy bound: a point that breaks one at low fidelity is never promoted,
        # and this tiny recipe's first epoch is far from any useful accuracy
        "search.constraints=['area_mm2 <= 1.40']",
        "hydra/sweeper/sampler=bruteforce",
        "hydra.sweeper.n_trials=4",
        "hydra.sweeper.params={quantizer.bits: 'choice(3, 5)', coding.time_window: "
        "'choice(4)', hardware.num_pes: 'choice(8, 256)'}",
        "hydra.sweeper.fidelity.key=training.stop_epoch",
        "hydra.sweeper.fidelity.low=1",
    ]


def _runs(out: Path):  # noqa: ANN202
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{out}/mlflow.db")
    exp = client.get_experiment_by_name("snn-dse").experiment_id
    (parent,) = client.search_runs([exp], "tags.`dse.kind` = 'sweep'")
    return client.search_runs(
        [exp], f"tags.mlflow.parentRunId = '{parent.info.run_id}'", max_results=1000
    )


def _study(out: Path):  # noqa: ANN202
    import optuna

    return optuna.load_study(
        study_name="pareto_digits", storage=optuna_storage(f"{out}/optuna.journal")
    )


def test_prescreened_points_never_train_and_only_full_fidelity_reaches_the_front(
    tmp_path: Path,
) -> None:
    out = tmp_path / "outputs"
    proc = subprocess.run(_command(out), cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    study, runs = _study(out), _runs(out)
    by_trial: dict[int, list] = {}
    for run in runs:
        by_trial.setdefault(int(run.data.tags["optuna_trial"]), []).append(run)
    assert sorted(by_trial) == [0, 1, 2, 3]

    for trial in study.trials:
        runs_of = by_trial[trial.number]
        if trial.params["hardware.num_pes"] == 256:  # its floor area breaks the budget
            (run,) = runs_of
            assert trial.state.name == "PRUNED" and trial.constraints["0"] > 0
            assert "area_mm2 <= 1.4 broken before training" in run.data.tags["dse.prescreened"]
            assert run.data.tags["dse.feasible"] == "false"
            assert run.data.metrics["floor_area_mm2"] > 1.40
            assert "snn_accuracy" not in run.data.metrics  # never trained, never simulated
            assert not any(k.startswith("dse.cache.") for k in run.data.tags)
            continue
        fidelity = Counter(r.data.tags["dse.fidelity"] for r in runs_of)
        low = next(r for r in runs_of if r.data.tags["dse.fidelity"] == "low")
        assert low.data.params["training.stop_epoch"] == "1"
        assert low.data.tags.get("dse.pareto_optimal") != "true"  # never on the front
        if trial.state.name == "PRUNED":  # not among the best of its rung: stopped there
            assert fidelity == {"low": 1} and low.data.tags["optuna.trial_state"] == "PRUNED"
            continue
        # promoted: the same design point trained further, recorded once at full fidelity
        assert trial.state.name == "COMPLETE" and fidelity == {"low": 1, "full": 1}
        assert low.data.tags["optuna.trial_state"] == "PROMOTED"
        full = next(r for r in runs_of if r.data.tags["dse.fidelity"] == "full")
        assert full.data.tags["dse.cache.training"] == "resumed"
        assert full.data.metrics["snn_accuracy"] == pytest.approx(trial.values[0])
        assert full.data.tags["dse.pareto_optimal"] in ("true", "false")
    assert [t.state.name for t in study.trials].count("COMPLETE") >= 1  # the rung's first


@pytest.mark.slow
def test_a_killed_multi_fidelity_sweep_resumes_without_training_a_point_twice(
    tmp_path: Path,
) -> None:
    out = tmp_path / "outputs"
    proc = subprocess.Popen(
        _command(out),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:  # killed as the first promoted point starts its full training
        if "promoted" in line:
            os.killpg(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the sweep ended before a point was promoted"
    again = subprocess.run(_command(out), cwd=REPO, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    trained = Counter(
        (
            r.data.params["quantizer.bits"],
            r.data.params["hardware.num_pes"],
            r.data.tags["dse.fidelity"],
        )
        for r in _runs(out)
        if r.data.tags.get("dse.cache.training") in ("miss", "resumed")
    )
    # each design point's network trained at most once per fidelity (the stage cache keeps
    # what the killed run finished; num_pes does not reach training, so count per bits)
    per_bits = Counter(
        (bits, fidelity) for (bits, _, fidelity), n in trained.items() for _ in range(n)
    )
    assert per_bits and all(n == 1 for n in per_bits.values()), per_bits
