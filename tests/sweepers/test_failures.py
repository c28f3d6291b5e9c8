"""A multirun whose jobs fail ends in one line (no traceback), with the MLflow parent run
FAILED and the finished runs kept: Hydra's grid (dse_grid) and the Optuna sweeper, on the
toy app (real MLflow and Optuna stores in tmp_path)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.toy_sweep import APP, CONFIG, children


@pytest.fixture()
def toy(tmp_path: Path):
    conf = tmp_path / "conf"
    conf.mkdir()
    out = tmp_path / "outputs"
    (conf / "config.yaml").write_text(CONFIG.format(out=out))
    grid = CONFIG.replace("hydra/sweeper: dse_optuna", "hydra/sweeper: dse_grid")
    grid = grid[: grid.index("  sweeper:\n")]  # the grid takes its axes from the command line
    (conf / "grid.yaml").write_text(grid.format(out=out))

    def run(*args: str) -> subprocess.CompletedProcess:
        cmd = [sys.executable, str(APP), "--config-dir", str(conf), *args]
        return subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)

    return run, out


def _one_error_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and proc.stderr.strip().endswith(errors[0]), proc.stderr
    return errors[0]


def test_a_raising_job_in_a_grid(toy) -> None:  # noqa: ANN001
    run, out = toy
    proc = run("--config-name", "grid", "-m", "x=1,2,3", "+fail_x_at_least=2.5")
    line = _one_error_line(proc)
    assert line.startswith("error: 1 of 3 jobs failed; the 2 finished runs are kept. First: job #2")
    assert "RuntimeError: toy design point -1 (x=3) diverged" in line
    assert "[job 2] x=3" in proc.stdout  # each failed job: one log line as it happens
    client, parents, runs = children(out)
    (parent,) = parents
    assert parent.info.status == "FAILED"
    assert parent.data.tags["dse.error"] == line.removeprefix("error: ")
    status = {r.data.params["x"]: r.info.status for r in runs}
    assert status == {"1": "FINISHED", "2": "FINISHED", "3": "FAILED"}
    # the finished runs are on the recorded front, as a grid without failures would have it
    assert {r.data.tags.get("dse.pareto_optimal") for r in runs if r.data.params["x"] != "3"} == {
        "true"
    }
    assert client.get_metric_history(parent.info.run_id, "pareto_size")[-1].value == 2


def test_a_grid_without_failures_still_finishes(toy) -> None:  # noqa: ANN001
    run, out = toy
    proc = run("--config-name", "grid", "-m", "x=1,2")
    assert proc.returncode == 0, proc.stderr
    assert "Pareto front: 2 of 2 finished design points" in proc.stdout  # printed once
    assert proc.stdout.count("Recorded on MLflow parent run") == 1
    client, (parent,), runs = children(out)
    assert parent.info.status == "FINISHED" and len(runs) == 2
    assert {r.data.tags["dse.pareto_optimal"] for r in runs} == {"true"}
    assert client.get_metric_history(parent.info.run_id, "hypervolume")[-1].step == 2
    art = Path(client.download_artifacts(parent.info.run_id, "", str(out / "dl")))
    assert (art / "pareto_front.png").stat().st_size > 0


def test_a_sweep_whose_trials_all_fail(toy) -> None:  # noqa: ANN001
    run, out = toy
    proc = run("-m", "+fail_x_at_least=0", "hydra.sweeper.max_failure_rate=1.0")
    line = _one_error_line(proc)
    assert line.startswith("error: all 4 trials of this sweep failed"), line
    assert "Last error: RuntimeError: toy design point 3" in line
    _, (parent,), runs = children(out)
    assert parent.info.status == "FAILED" and "all 4 trials" in parent.data.tags["dse.error"]
    assert len(runs) == 4 and all(r.info.status == "FAILED" for r in runs)


def test_another_sweeper_still_gets_its_front_from_the_callback(toy) -> None:  # noqa: ANN001
    # Hydra's own basic sweeper does not record: SweepCallback computes the front at the end.
    run, out = toy
    proc = run("--config-name", "grid", "-m", "hydra/sweeper=basic", "x=1,2")
    assert proc.returncode == 0, proc.stderr
    assert "Pareto front: 2 of 2 finished design points" in proc.stdout
    client, (parent,), runs = children(out)
    assert parent.info.status == "FINISHED"
    assert {r.data.tags["dse.pareto_optimal"] for r in runs} == {"true"}


@pytest.mark.parametrize("when", ["in", "after"])
def test_a_sweep_killed_mid_trial_is_settled_by_the_next_run(toy, when: str) -> None:  # noqa: ANN001
    """kill -9 inside trial 1: the next run fails it (its run KILLED) and runs its point
    again; kill -9 after trial 1's run finished: the next run keeps that result. Either way
    the study ends with the 4 trials asked for, each with one FINISHED run."""
    import optuna

    run, out = toy
    first = run("-m", f"+die_{when}_trial=1")
    assert first.returncode == -9
    again = run("-m")  # the same sweep (n_trials=4), resumed
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Resuming an interrupted sweep" in again.stdout
    client, (parent,), runs = children(out)
    assert parent.info.status == "FINISHED"
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(out / "optuna.journal"))
    )
    trials = optuna.load_study(study_name="dse", storage=storage).trials
    states = {t.number: t.state.name for t in trials}
    finished = sorted(int(r.data.tags["optuna_trial"]) for r in runs if r.info.status == "FINISHED")
    assert finished == sorted(n for n, s in states.items() if s == "COMPLETE")
    assert len(finished) == 4 and "RUNNING" not in states.values()
    killed = [r for r in runs if r.info.status == "KILLED"]
    if when == "in":
        assert states[1] == "FAIL" and trials[1].user_attrs["dse.interrupted"]
        assert [r.data.tags["optuna_trial"] for r in killed] == ["1"]
        retry = [t for t in trials if t.user_attrs.get("dse.retry_of") == 1]
        assert retry[0].params == trials[1].params and retry[0].state.name == "COMPLETE"
    else:
        assert states[1] == "COMPLETE" and killed == []  # kept, not run again
        assert "finished before its process died: result kept" in again.stdout
