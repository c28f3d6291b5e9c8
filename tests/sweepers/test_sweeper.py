"""The sweeper end to end on a toy Hydra app: real Optuna and MLflow stores in tmp_path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dse.front.pareto import hypervolume, pareto_mask
from tests.support.toy_sweep import APP, CONFIG, children


@pytest.fixture()
def app(tmp_path: Path):
    conf = tmp_path / "conf"
    conf.mkdir()
    out = tmp_path / "outputs"
    (conf / "config.yaml").write_text(CONFIG.format(out=out))

    def run(*overrides: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [sys.executable, str(APP), "--config-dir", str(conf), "-m", *overrides]
        proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
        if check and proc.returncode != 0:
            raise AssertionError(f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        return proc

    return run, out


def study(out: Path, name: str = "dse"):
    import optuna

    from hydra_plugins.dse_optuna_sweeper._storage import optuna_storage

    return optuna.load_study(study_name=name, storage=optuna_storage(f"{out}/optuna.journal"))


def test_sweep_records_front_failures_constraints_and_resumes(app, tmp_path: Path) -> None:
    run, out = app
    first = run("fail_trial=1", "cheat_trial=2")
    client, parents, runs = children(out)
    assert len(parents) == 1 and len(runs) == 4
    parent = parents[0].info.run_id
    states = {r.data.tags["optuna_trial"]: r for r in runs}
    # the failing trial: FAILED run, told to Optuna as FAIL, the sweep went on
    assert states["1"].info.status == "FAILED"
    assert states["1"].data.tags["optuna.trial_state"] == "FAIL"
    assert "diverged" in states["1"].data.tags["dse.error"]
    assert "[trial 1]" in first.stderr + first.stdout and "FAILED" in first.stderr + first.stdout
    # the infeasible point dominates everything yet is never Pareto-optimal
    assert states["2"].data.tags["dse.pareto_optimal"] == "false"
    assert states["2"].data.tags["dse.feasible"] == "false"
    assert all(states[k].data.tags["optuna.trial_state"] == "COMPLETE" for k in ("0", "2", "3"))
    s = study(out)
    assert [t.state.name for t in s.trials] == ["COMPLETE", "FAIL", "COMPLETE", "COMPLETE"]
    # the list optuna-dashboard reads (Optuna numbers its entries); their text on the study
    assert s.trials[2].constraints == {"0": pytest.approx(5.0 - 2.0)}
    assert s.user_attrs["constraints"] == ["area_mm2 <= 2"]
    assert s.trials[2].user_attrs["feasible"] is False
    assert s.trials[0].user_attrs["feasible"] == (0.3 * s.trials[0].params["x"] <= 2)
    assert s.trials[0].user_attrs["mlflow_run_id"] == states["0"].info.run_id
    # run params carry the proposed values
    assert states["0"].data.params["x"] == str(s.trials[0].params["x"])
    assert f"optuna-dashboard {out}/optuna.journal" in first.stdout and "mlflow ui" in first.stdout
    assert "Best Trials list ignores constraints, optuna/optuna-dashboard#772" in first.stdout

    # same command again with more trials: the study and the parent run continue
    second = run("fail_trial=1", "cheat_trial=2", "hydra.sweeper.n_trials=3")
    # the seeded sampler continues (a stream per trial number) instead of replaying the first run
    assert "4 trials so far, adding 3; sampler TPESampler (seed 0)" in second.stdout + second.stderr
    client, parents, runs = children(out)
    assert len(parents) == 1 and parents[0].info.run_id == parent
    assert len(runs) == 7 and len(study(out).trials) == 7
    assert sorted(int(r.data.tags["optuna_trial"]) for r in runs) == list(range(7))

    # the Pareto tags agree with a front computed here from the children's metrics
    done = [r for r in runs if r.info.status == "FINISHED"]
    vals = np.array([[r.data.metrics["snn_accuracy"], r.data.metrics["energy_uj"]] for r in done])
    feas = np.array([r.data.metrics["area_mm2"] <= 2 for r in done])
    expect = pareto_mask(vals, ["maximize", "minimize"], feas)
    got = np.array([r.data.tags["dse.pareto_optimal"] == "true" for r in done])
    assert (got == expect).all() and expect.any()
    # hypervolume history: one step per finished trial, never decreasing
    history = client.get_metric_history(parent, "hypervolume")
    assert [h.step for h in history] == list(range(1, len(done) + 1))
    values = [h.value for h in history]
    assert values == sorted(values) and values[-1] > 0
    # step k: the hypervolume of the first k trials' front, computed here independently
    params = client.get_run(parent).data.params
    ref = [float(params[f"hypervolume_reference.{k}"]) for k in ("snn_accuracy", "energy_uj")]
    order = np.argsort([int(r.data.tags["optuna_trial"]) for r in done])
    for k in range(1, len(done) + 1):
        first = order[:k]
        on = pareto_mask(vals[first], ["maximize", "minimize"], feas[first])
        expected = hypervolume(vals[first][on], ["maximize", "minimize"], ref) if on.any() else 0
        assert values[k - 1] == pytest.approx(expected)
    art = Path(client.download_artifacts(parent, "", str(tmp_path / "dl")))
    for name in ("pareto_front.png", "pareto_front.svg", "pareto_front.csv", "pareto_summary.json"):
        assert (art / name).stat().st_size > 0


def test_failure_rate_stops_the_sweep(app) -> None:
    run, out = app
    proc = run(
        "fail_trial=0",
        "hydra.sweeper.max_failure_rate=0.0",
        "hydra.sweeper.n_trials=5",
        check=False,
    )
    assert proc.returncode != 0
    assert "max_failure_rate" in proc.stderr and "1 of 1 trials failed" in proc.stderr
    assert len(study(out).trials) == 1


@pytest.mark.slow
def test_parallel_batches_with_joblib_launcher(app) -> None:
    run, out = app
    run(
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "hydra.sweeper.n_jobs=2",
        "hydra.sweeper.sampler.n_startup_trials=2",
    )
    client, parents, runs = children(out)
    assert len(runs) == 4 and all(r.info.status == "FINISHED" for r in runs)
    history = client.get_metric_history(parents[0].info.run_id, "hypervolume")
    assert [h.step for h in history] == [1, 2, 3, 4]  # a step per trial, batches of two
    assert len({(r.data.params["x"], r.data.params["y"]) for r in runs}) == 4


def test_single_objective(app) -> None:
    run, out = app
    proc = run(
        "search.objectives=[{metric: energy_uj, direction: minimize}]",
        "search.constraints=[]",
        "hydra.sweeper.n_trials=3",
    )
    s = study(out)
    assert len(s.directions) == 1 and len(s.trials) == 3
    client, parents, runs = children(out)
    # one objective: the front is the best design point (ties would all be kept)
    best = min(r.data.metrics["energy_uj"] for r in runs)
    tagged = [r for r in runs if r.data.tags["dse.pareto_optimal"] == "true"]
    assert [r.data.metrics["energy_uj"] for r in tagged] == [best]
    assert s.best_value == pytest.approx(best)
    assert "energy_uj" in proc.stdout
