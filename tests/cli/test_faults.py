"""Fault injection on the real ``dse`` command (issue 15): signals and kill -9 in the
middle of a sweep, late configuration errors, bad inputs, planted files, concurrent runs,
the clear-cache guard. Each test asserts the end state in Optuna and MLflow: one line
``error: ...`` or ``interrupted (...)``, no traceback, no RUNNING trial or run, no finished
result lost or repeated.
"""

from __future__ import annotations

import collections
import os
import pickle
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.services import run_dse

DSE = str(Path(sys.executable).parent / "dse")
# A sweep whose trials cost ~0.3-1 s on digits (the pretraining is cached once).
SWEEP = [
    "-m",
    "experiment=pareto_digits",
    "training.epochs=1",
    "training.pretrain.epochs=2",
    "tracking.breakdown_chart=false",
    "tracking.log_models=false",  # the front's models: tests/cli/test_export.py
]
ENV = {"OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"}


# --------------------------------------------------------------------------- helpers


def one_line(proc: subprocess.CompletedProcess | tuple[int, str], prefix: str = "error: ") -> str:
    """The one line the command ended with (stderr), after checking there is no traceback."""
    code, stderr = (proc.returncode, proc.stderr) if hasattr(proc, "stderr") else proc
    assert code != 0, stderr[-2000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    lines = [line for line in stderr.splitlines() if line.startswith(prefix)]
    assert len(lines) == 1 and stderr.strip().endswith(lines[0]), stderr[-2000:]
    return lines[0]


def mlflow_runs(out: Path) -> list:
    if not (out / "mlflow.db").exists():
        return []
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{out}/mlflow.db")
    exps = [e.experiment_id for e in client.search_experiments()]
    return list(client.search_runs(exps, max_results=5000)) if exps else []


def statuses(out: Path) -> collections.Counter:
    """(parent | child, status) -> count."""
    return collections.Counter(
        ("parent" if r.data.tags.get("dse.kind") == "sweep" else "child", r.info.status)
        for r in mlflow_runs(out)
    )


def study_trials(out: Path, name: str = "pareto_digits") -> list:
    journal = out / "optuna.journal"
    if not journal.exists():
        return []
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    storage = JournalStorage(JournalFileBackend(str(journal)))
    if name not in [s.study_name for s in optuna.get_all_study_summaries(storage)]:
        return []
    return optuna.load_study(study_name=name, storage=storage).trials


def last_sweep_finished(out: Path, name: str = "pareto_digits") -> bool:
    """Whether the study's latest sweep closed its record (finished: the next run of the
    command adds n_trials) rather than died (the next run finishes it)."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    journal = out / "optuna.journal"
    if not journal.exists():
        return False
    storage = JournalStorage(JournalFileBackend(str(journal)))
    if name not in [s.study_name for s in optuna.get_all_study_summaries(storage)]:
        return False
    attrs = optuna.load_study(study_name=name, storage=storage).user_attrs
    records = [v for k, v in attrs.items() if k.startswith("dse.sweep.")]
    return bool(records) and max(records, key=lambda r: r["started_at"])["state"] == "finished"


def assert_settled(out: Path, complete: int) -> None:
    """The end state after a sweep that finished: ``complete`` COMPLETE trials, nothing
    RUNNING or WAITING; each completed trial has exactly one FINISHED MLflow child (its
    own), every other child is FAILED or KILLED; the parent FINISHED."""
    trials = study_trials(out)
    states = collections.Counter(t.state.name for t in trials)
    assert states["COMPLETE"] == complete, states
    assert set(states) <= {"COMPLETE", "FAIL"}, states
    runs = mlflow_runs(out)
    parents = [r for r in runs if r.data.tags.get("dse.kind") == "sweep"]
    assert [p.info.status for p in parents] == ["FINISHED"]
    children = [r for r in runs if r.data.tags.get("dse.kind") != "sweep"]
    finished = [r for r in children if r.info.status == "FINISHED"]
    assert {r.info.status for r in children} <= {"FINISHED", "FAILED", "KILLED"}
    done = sorted(t.number for t in trials if t.state.name == "COMPLETE")
    assert sorted(int(r.data.tags["optuna_trial"]) for r in finished) == done  # once each
    by_trial = {t.number: t for t in trials}
    for r in finished:  # Optuna's record and MLflow's agree
        trial = by_trial[int(r.data.tags["optuna_trial"])]
        assert trial.user_attrs["mlflow_run_id"] == r.info.run_id
        assert trial.values[0] == pytest.approx(r.data.metrics["snn_accuracy"])
        # the front's tags, even for trials a killed writer never recorded
        assert r.data.tags.get("optuna.trial_state") == "COMPLETE", r.info.run_name
        assert {"dse.feasible", "dse.pareto_optimal"} <= set(r.data.tags), r.info.run_name


def start(args: list[str], cwd: Path) -> subprocess.Popen:
    """``dse`` in the background: its log (stdout) read line by line, stderr to a file."""
    cwd.mkdir(parents=True, exist_ok=True)
    err = open(cwd / f"stderr-{time.monotonic_ns()}.txt", "w+")  # noqa: SIM115 - closed in end()
    proc = subprocess.Popen(
        [DSE, *args],
        cwd=cwd,
        env={**os.environ, **ENV},
        stdout=subprocess.PIPE,
        stderr=err,
        text=True,
    )
    proc.err_file = err  # type: ignore[attr-defined]
    return proc


def end(proc: subprocess.Popen, timeout: float = 120) -> tuple[int, str]:
    """Wait for ``proc``; its exit status and stderr."""
    proc.communicate(timeout=timeout)
    err = proc.err_file  # type: ignore[attr-defined]
    err.seek(0)
    text = err.read()
    err.close()
    return proc.returncode, text


def start_sweep(out: Path, *extra: str) -> subprocess.Popen:
    return start([*SWEEP, f"paths.outputs={out}", *extra], out.parent)


def wait_for_log(
    proc: subprocess.Popen, needle: str, count: int, timeout: float = 300, early: bool = False
) -> None:
    """Read the log until ``count`` lines held ``needle`` (or the run ended, when ``early``)."""
    assert proc.stdout is not None
    seen, deadline = 0, time.monotonic() + timeout
    while seen < count:
        line = proc.stdout.readline()
        assert time.monotonic() < deadline, "timed out"
        if not line and early:
            return
        assert line, "the run ended early"
        seen += needle in line


def wait_for_run(db: Path, timeout: float = 120) -> None:
    """Until the MLflow store at ``db`` holds a RUNNING run (read with sqlite3: cheap)."""
    import sqlite3

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if db.exists():
            with sqlite3.connect(db) as conn:
                if conn.execute("select 1 from runs where status = 'RUNNING'").fetchall():
                    return
        time.sleep(0.2)
    raise AssertionError("no run started")


def wait_for_trials(proc: subprocess.Popen, count: int, early: bool = False) -> None:
    """Until ``count`` trials were told (the sweeper logs ``[trial N] ... -> ...``)."""
    wait_for_log(proc, " -> ", count, early=early)


# --------------------------------------------------------------------------- signals


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_mid_sweep_closes_everything_and_the_rerun_finishes(
    tmp_path: Path, sig: signal.Signals
) -> None:
    out = tmp_path / "out"
    proc = start_sweep(out, "hydra.sweeper.n_trials=6")
    wait_for_trials(proc, 2)
    time.sleep(0.3)  # inside the third trial
    proc.send_signal(sig)
    code, stderr = end(proc)
    line = one_line((code, stderr), prefix="interrupted (")
    assert code == 128 + sig
    assert line.startswith(f"interrupted ({sig.name}): sweep of study 'pareto_digits' stopped")
    trials = study_trials(out)
    assert "RUNNING" not in {t.state.name for t in trials}
    stopped = [t for t in trials if t.state.name == "FAIL"]
    assert all("dse.interrupted" in t.user_attrs for t in stopped)
    counts = statuses(out)
    assert counts[("parent", "KILLED")] == 1 and counts[("child", "RUNNING")] == 0
    assert counts[("child", "FINISHED")] == sum(t.state.name == "COMPLETE" for t in trials)
    assert counts[("child", "KILLED")] == len(stopped)

    again = run_dse([*SWEEP, f"paths.outputs={out}", "hydra.sweeper.n_trials=6"], tmp_path, ENV)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Resuming an interrupted sweep" in again.stdout
    assert_settled(out, complete=6)  # 6 asked, 6 complete: the stopped ones run again
    retried = {t.user_attrs.get("dse.retry_of") for t in study_trials(out)}
    assert {t.number for t in stopped} <= retried


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_after_n_trials_leaves_n_complete_child_runs(
    tmp_path: Path, sig: signal.Signals
) -> None:
    """The front is recorded every few seconds, not after each trial: a sweep stopped by a
    signal after N told trials still has N complete child runs (params, metrics, files,
    trial state, feasibility and Pareto tags that agree with the front of what finished)
    and the hypervolume of all N on its parent."""
    import numpy as np
    from mlflow import MlflowClient

    from dse.front.pareto import pareto_mask

    out = tmp_path / "out"
    proc = start_sweep(out, "hydra.sweeper.n_trials=12")
    wait_for_trials(proc, 4)
    time.sleep(0.2)
    proc.send_signal(sig)
    code, stderr = end(proc)
    assert code == 128 + sig, stderr[-3000:]
    told = [t for t in study_trials(out) if t.state.name == "COMPLETE"]
    assert len(told) >= 4
    client = MlflowClient(f"sqlite:///{out}/mlflow.db")
    runs = mlflow_runs(out)
    (parent,) = [r for r in runs if r.data.tags.get("dse.kind") == "sweep"]
    finished = [r for r in runs if r.info.status == "FINISHED"]
    assert sorted(int(r.data.tags["optuna_trial"]) for r in finished) == sorted(
        t.number for t in told
    )
    n_params = {len(r.data.params) for r in finished}
    assert len(n_params) == 1 and n_params.pop() > 50  # every key of the config, each run
    for run in finished:
        assert {"snn_accuracy", "energy_uj", "stage_seconds"} <= set(run.data.metrics)
        assert run.data.tags["optuna.trial_state"] == "COMPLETE"
        files = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"config.yaml", "workload.json", "hardware_breakdown.csv"} <= files
    values = np.array(
        [[r.data.metrics["snn_accuracy"], r.data.metrics["energy_uj"]] for r in finished]
    )
    feasible = values[:, 0] >= 80  # pareto_digits: snn_accuracy >= 80
    on_front = pareto_mask(values, ["maximize", "minimize"], feasible)
    for run, ok, on in zip(finished, feasible, on_front, strict=True):
        assert run.data.tags["dse.feasible"] == str(bool(ok)).lower()
        assert run.data.tags["dse.pareto_optimal"] == str(bool(on)).lower()
    history = client.get_metric_history(parent.info.run_id, "hypervolume")
    assert history[-1].step == len(finished)
    sizes = client.get_metric_history(parent.info.run_id, "pareto_size")
    assert sizes[-1].value == on_front.sum()


@pytest.mark.slow
def test_kill_9_five_times_then_rerun_ends_with_the_trials_asked_for(tmp_path: Path) -> None:
    """The issue's target: kill -9 at a random point of a 10-trial sweep, 5 times, rerun
    each time: exactly 10 completed trials, each recorded once in MLflow."""
    seed = int(os.environ.get("DSE_FAULT_SEED", time.time()))
    rng = random.Random(seed)
    out = tmp_path / "out"
    args = ["hydra.sweeper.n_trials=10"]
    requested, fresh = 0, True  # a run after one that ended by itself adds 10 trials
    kills: list[str] = []
    for _ in range(5):
        requested += 10 if fresh else 0
        owed = requested - sum(t.state.name == "COMPLETE" for t in study_trials(out))
        proc = start_sweep(out, *args)
        # a random point before the sweep ends: after 0 to owed-1 told trials (0: start-up,
        # or inside the first), then up to 0.5 s more (a trial takes ~0.3-1 s)
        told, delay = rng.randint(0, max(0, owed - 1)), rng.uniform(0.0, 0.5)
        wait_for_trials(proc, told, early=True)
        time.sleep(delay)
        kills.append(f"{told} of {owed} told + {delay:.2f} s")
        proc.kill()
        code, stderr = end(proc)
        assert code in (0, -signal.SIGKILL), stderr[-3000:]
        fresh = last_sweep_finished(out)  # it had closed its sweep before the kill
    requested += 10 if fresh else 0
    final = run_dse([*SWEEP, f"paths.outputs={out}", *args], tmp_path, ENV)
    assert final.returncode == 0, f"seed {seed}\n{final.stderr[-3000:]}"
    assert_settled(out, complete=requested)
    print(f"seed {seed}: kills at {kills}; {requested} trials asked for, all complete")


@pytest.mark.slow
def test_ctrl_c_in_a_grid_keeps_the_finished_runs(tmp_path: Path) -> None:
    out = tmp_path / "out"
    grid = ["-m", "quantizer.bits=2,3,4,5,6", "coding.time_window=4,8", "training.epochs=1"]
    proc = start([*grid, "tracking.breakdown_chart=false", f"paths.outputs={out}"], tmp_path)
    wait_for_log(proc, "result: snn_accuracy", 2)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    code, stderr = end(proc)
    line = one_line((code, stderr), prefix="interrupted (")
    assert code == 130 and line.startswith("interrupted (SIGINT): grid stopped")
    counts = statuses(out)
    assert counts[("parent", "KILLED")] == 1 and counts[("child", "FINISHED")] >= 2
    assert {status for _, status in counts} <= {"FINISHED", "KILLED"}


@pytest.mark.slow
def test_two_sweeps_of_one_study_at_once_do_not_fail_each_other(tmp_path: Path) -> None:
    """Started together on a fresh folder (journal + SQLite, created by either): neither
    takes the other for dead, both end well, the study holds both workers' trials, one
    parent closed by the last, no design point drawn twice, nothing left RUNNING."""
    out = tmp_path / "out"
    procs = [start_sweep(out, "hydra.sweeper.n_trials=4") for _ in range(2)]
    for p in procs:
        code, stderr = end(p, timeout=600)
        assert code == 0, stderr[-3000:]
    trials = study_trials(out)
    assert not [t for t in trials if ledger_attr_interrupted(t)]
    assert [t.state.name for t in trials] == ["COMPLETE"] * 8
    points = [tuple(sorted(t.params.items())) for t in trials]
    assert len(set(points)) == 8, points
    assert statuses(out) == {("parent", "FINISHED"): 1, ("child", "FINISHED"): 8}
    assert len(list((out / "multirun").iterdir())) == 2  # a folder each


@pytest.mark.slow
def test_ctrl_c_in_one_of_two_workers_leaves_the_other_the_study(tmp_path: Path) -> None:
    """One worker of a shared study stopped: its trial FAIL and run KILLED, the parent run
    stays RUNNING for the other worker, which finishes and closes it."""
    out = tmp_path / "out"
    # the other has more to do: cache-hit trials take ~0.25 s, and whichever worker waits
    # for the other's pretraining starts seconds later
    stopped = start_sweep(out, "hydra.sweeper.n_trials=6")
    other = start_sweep(out, "hydra.sweeper.n_trials=40")
    wait_for_trials(stopped, 2)
    time.sleep(0.2)
    stopped.send_signal(signal.SIGINT)
    code, stderr = end(stopped)
    line = one_line((code, stderr), prefix="interrupted (")
    assert code == 130 and "other worker(s) still run the study" in line
    code, stderr = end(other, timeout=600)
    assert code == 0, stderr[-3000:]
    trials = study_trials(out)
    assert "RUNNING" not in {t.state.name for t in trials}
    failed = [t for t in trials if t.state.name == "FAIL"]
    assert all(ledger_attr_interrupted(t) for t in failed)
    counts = statuses(out)
    assert counts[("parent", "FINISHED")] == 1 and len([k for k in counts if k[0] == "parent"]) == 1
    assert counts[("child", "KILLED")] == len(failed) and ("child", "RUNNING") not in counts
    assert counts[("child", "FINISHED")] == sum(t.state.name == "COMPLETE" for t in trials)


def ledger_attr_interrupted(trial: object) -> bool:
    return "dse.interrupted" in trial.user_attrs  # type: ignore[attr-defined]


@pytest.mark.slow
def test_ctrl_c_in_a_single_run_kills_its_mlflow_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = start(["training.epochs=100", "cache.enabled=false", f"paths.outputs={out}"], tmp_path)
    wait_for_run(out / "mlflow.db")  # the design point's run exists: it is training
    time.sleep(1.0)
    assert proc.poll() is None
    proc.send_signal(signal.SIGINT)
    code, stderr = end(proc)
    line = one_line((code, stderr), prefix="interrupted (")
    assert code == 130 and "KILLED" in line
    assert statuses(out) == {("child", "KILLED"): 1}


# A library the process has mapped: its import is under way or done, and (single run, 1
# epoch) nothing printed yet. _yaml: dse.cli's own imports (Hydra's, before main());
# tslib: pandas, under MLflow's import in main()'s preflight, seconds later.
STARTING = ["_yaml.cpython", "tslib.cpython"]


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("moment", STARTING)
def test_a_signal_while_dse_imports_is_one_line(tmp_path: Path, moment: str, signum: int) -> None:
    out = tmp_path / "out"
    proc = start(["training.epochs=1", f"paths.outputs={out}"], tmp_path)
    maps = Path(f"/proc/{proc.pid}/maps")
    deadline = time.monotonic() + 120
    while moment not in maps.read_text():
        assert proc.poll() is None and time.monotonic() < deadline, end(proc)
        time.sleep(0.002)
    proc.send_signal(signum)
    assert proc.stdout is not None
    stdout = proc.stdout.read()  # until the process has ended
    code, stderr = end(proc, timeout=60)
    assert stdout == "", stdout[-2000:]  # it came before the first line
    line = one_line((code, stderr), prefix="interrupted (")
    assert code == 128 + signum and signal.Signals(signum).name in line, stderr[-2000:]
    assert stderr.strip() == line  # one line: nothing else on stderr either


@pytest.mark.slow
def test_ctrl_c_under_hydras_basic_sweeper_kills_the_parent_run(tmp_path: Path) -> None:
    """Another sweeper than dse's: Hydra calls no callback when a signal ends the multirun;
    dse closes the parent run SweepCallback opened (KILLED) before its one line."""
    import sqlite3

    out = tmp_path / "out"
    args = ["-m", "hydra/sweeper=basic", "quantizer.bits=3,4", "training.epochs=100"]
    proc = start([*args, "cache.enabled=false", f"paths.outputs={out}"], tmp_path)
    deadline = time.monotonic() + 120
    while True:  # the parent and the first design point's run are open: it is training
        time.sleep(0.2)
        assert proc.poll() is None and time.monotonic() < deadline, end(proc)
        if (out / "mlflow.db").exists():
            with sqlite3.connect(out / "mlflow.db") as conn:
                query = "select count(*) from runs where status = 'RUNNING'"
                if conn.execute(query).fetchone()[0] >= 2:
                    break
    proc.send_signal(signal.SIGINT)
    code, stderr = end(proc)
    line = one_line((code, stderr), prefix="interrupted (")
    assert code == 130 and "parent run KILLED" in line, stderr[-2000:]
    assert statuses(out) == {("parent", "KILLED"): 1, ("child", "KILLED"): 1}


# --------------------------------------------------------------------------- sweep errors

LATE_ERRORS = {
    "n_trials": (["hydra.sweeper.n_trials=0"], "hydra.sweeper.n_trials must be >= 1"),
    "interval": (["hardware.num_pes=interval(5,1)"], "interval(low, high) needs low < high"),
    "constraint syntax": (['search.constraints=["area_mm2 <== 1"]'], "must read '<metric> <op>"),
    "objective metric": (
        ["search.objectives=[{metric:acuracy,direction:maximize}]"],
        "search.objectives: 'acuracy' is not a metric of this design point",
    ),
    "constraint metric": (
        ['search.constraints=["area_m2 <= 1"]'],
        "search.constraints: 'area_m2' is not a metric of this design point",
    ),
    "storage": (["hydra.sweeper.storage=${paths.outputs}/afile/j.log"], "hydra.sweeper.storage="),
    "tracking scheme": (["tracking.uri=bogus://foo"], "tracking.uri=bogus://foo"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(LATE_ERRORS))
def test_sweep_errors_are_found_before_any_run_or_trial(tmp_path: Path, case: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "afile").write_text("a file where a folder is expected")
    overrides, message = LATE_ERRORS[case]
    proc = run_dse([*SWEEP, f"paths.outputs={out}", *overrides], tmp_path, ENV, timeout=300)
    assert message in one_line(proc)
    assert mlflow_runs(out) == []  # no parent, no child: nothing RUNNING anywhere
    assert study_trials(out) == []
    assert not (out / "cache").exists()  # nothing trained


def test_a_grid_with_an_unknown_objective_opens_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run_dse(
        ["-m", "quantizer.bits=3,4", "search.objectives=[{metric:joules}]"]
        + [f"paths.outputs={out}"],
        tmp_path,
        ENV,
        timeout=300,
    )
    assert "'joules' is not a metric of this design point" in one_line(proc)
    assert mlflow_runs(out) == []


# --------------------------------------------------------------------------- bad inputs


class _Payload:
    """Unpickling this runs a shell command that creates ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        return (os.system, (f"touch {self.marker}",))


CIFAR_FILES = [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]


@pytest.mark.parametrize("content", ["garbage", "payload"])
def test_a_bad_cifar_folder_is_one_line_before_any_run(tmp_path: Path, content: str) -> None:
    folder = tmp_path / "cifar" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    marker = tmp_path / "executed"
    rng = random.Random(0)
    for name in CIFAR_FILES:
        if content == "garbage":
            data = bytes(rng.randrange(256) for _ in range(4096))
        else:  # a well-formed pickle whose only content is code to run
            data = pickle.dumps({b"data": _Payload(marker), b"labels": [0]}, protocol=2)
        (folder / name).write_bytes(data)
    out = tmp_path / "out"
    args = ["dataset=cifar10", f"dataset.root={tmp_path / 'cifar'}", f"paths.outputs={out}"]
    proc = run_dse(args, tmp_path, ENV, timeout=300)
    line = one_line(proc)
    assert "data_batch_1: not a CIFAR python batch" in line
    assert not marker.exists()
    assert mlflow_runs(out) == [] and not (out / "mlflow.db").exists()
    assert list((out / "runs").iterdir()) == []  # the run folder Hydra made is gone


def test_a_garbage_idx_file_is_one_line_before_any_run(tmp_path: Path) -> None:
    import numpy as np

    from dse.builtin.datasets.idx import FILES, write_idx

    root = tmp_path / "fashion"
    root.mkdir()
    for stem in FILES:
        n = 20 if "train" in stem else 10
        data = np.zeros((n, 28, 28) if "images" in stem else (n,), dtype=np.uint8)
        write_idx(root / f"{stem}.gz", data)
    (root / "t10k-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8b" + b"not gzip at all" * 10)
    out = tmp_path / "out"
    args = ["dataset=fashion_mnist", f"dataset.root={root}", f"paths.outputs={out}"]
    line = one_line(run_dse(args, tmp_path, ENV, timeout=300))
    assert "t10k-labels-idx1-ubyte.gz: cannot read it" in line
    assert not (out / "mlflow.db").exists() and list((out / "runs").iterdir()) == []


@pytest.mark.parametrize("where", ["file", "tracking"])
def test_unusable_outputs_or_store_is_one_line(tmp_path: Path, where: str) -> None:
    target = tmp_path / "a_file"
    target.write_text("not a folder")
    args = (
        [f"paths.outputs={target}"]
        if where == "file"
        else [f"paths.outputs={tmp_path / 'out'}", "tracking.uri=bogus://foo"]
    )
    proc = run_dse(args, tmp_path, ENV, timeout=300)
    line = one_line(proc)
    assert ("cannot write the run folder" in line) if where == "file" else ("bogus" in line)
    if where == "tracking":
        assert list((tmp_path / "out" / "runs").iterdir()) == []


# --------------------------------------------------------------------------- concurrency


@pytest.mark.slow
def test_concurrent_single_runs_never_share_a_folder(tmp_path: Path) -> None:
    """Three runs started in the same second on one fresh outputs folder (MLflow's store
    created by whichever comes first): three folders, each with its own config."""
    out = tmp_path / "out"
    pes = [16, 64, 200]
    procs = [
        start(["training.epochs=1", f"hardware.num_pes={n}", f"paths.outputs={out}"], tmp_path)
        for n in pes
    ]
    for p in procs:
        code, err = end(p, timeout=600)
        assert code == 0, err[-3000:]
    folders = sorted((out / "runs").iterdir())
    assert len(folders) == 3
    import yaml

    seen = []
    for folder in folders:
        overrides = yaml.safe_load((folder / ".hydra" / "overrides.yaml").read_text())
        recorded = yaml.safe_load((folder / "artifacts" / "config.yaml").read_text())
        asked = int(next(o for o in overrides if o.startswith("hardware.num_pes=")).split("=")[1])
        assert recorded["hardware"]["num_pes"] == asked
        seen.append(asked)
    assert sorted(seen) == pes
    runs = mlflow_runs(out)
    assert [r.info.status for r in runs] == ["FINISHED"] * 3

    # the metric names the sweepers check search specs against are what a run returns
    from dse.cli.app import design_metrics
    from dse.point.pipeline import build_plugins
    from dse.registry.schema import register_schemas

    register_schemas()
    from hydra import compose, initialize_config_dir

    from dse.registry.discovery import CONF_DIR

    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=["training.epochs=1"])
    # per-layer membrane reads (membrane_reads_<layer>) are diagnostics, not in the list
    recorded = {m for m in runs[0].data.metrics if "membrane_reads_" not in m}
    assert recorded == design_metrics(build_plugins(cfg))


# --------------------------------------------------------------------------- clear-cache


def test_clear_cache_refuses_an_outputs_folder_and_clears_its_cache(tmp_path: Path) -> None:
    from dse.point.cache import StageCache

    out = tmp_path / "out"
    (out / "runs" / "r1").mkdir(parents=True)
    (out / "mlflow.db").write_bytes(b"SQLite format 3\x00")
    (out / "optuna.journal").write_text("{}\n")
    (out / "runs" / "r1" / "log.txt").write_text("a run's log")
    cache = StageCache(out / "cache")
    cache.put("training", "a" * 64, b"net")
    cache.put("simulation", "b" * 64, b"sim")
    before = sorted(p for p in out.rglob("*"))

    refused = run_dse(["--clear-cache", f"cache.dir={out}"], tmp_path, ENV)
    assert "nothing deleted" in one_line(refused)
    assert sorted(p for p in out.rglob("*")) == before

    cleared = run_dse(["--clear-cache", f"paths.outputs={out}"], tmp_path, ENV)
    assert cleared.returncode == 0, cleared.stderr
    assert "removed 2 cache entries" in cleared.stdout
    assert "simulation 1, training 1" in cleared.stdout
    assert not (out / "cache").exists()
    assert (out / "mlflow.db").exists() and (out / "runs" / "r1" / "log.txt").exists()
