"""The sweeper's ledger of invocations: which RUNNING trials belong to a dead process, what
the next run owes, re-queueing once. In-memory Optuna studies, records written as the
sweeper writes them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import optuna
import pytest
from optuna.distributions import IntDistribution
from optuna.trial import TrialState

from hydra_plugins.dse_optuna_sweeper import _ledger as ledger

SPACE = {"x": IntDistribution(0, 100)}


def dead_pid() -> int:
    """The pid of a process that has exited."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def record(study: optuna.Study, uid: str, n_trials: int, **fields: object) -> None:
    base = {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "start": ledger.process_start(os.getpid()),
        "started_at": time.time(),
        "heartbeat": time.time(),
        "n_trials": n_trials,
        "adopts": [],
        "state": "running",
    }
    study.set_user_attr(ledger.RECORD_PREFIX + uid, {**base, **fields})


def ask(study: optuna.Study, uid: str | None) -> optuna.Trial:
    trial = study.ask(SPACE)
    if uid is not None:
        trial.set_user_attr(ledger.OWNER_ATTR, uid)
    return trial


@pytest.fixture()
def study() -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(directions=["maximize"])


def test_a_fresh_study_runs_n_trials(study: optuna.Study) -> None:
    todo = ledger.plan(study, 7)
    assert (todo.n_trials, todo.adopted, todo.stale) == (7, [], [])


def test_a_dead_sweep_is_adopted_its_running_trial_is_stale(study: optuna.Study) -> None:
    record(study, "dead", 10, pid=dead_pid())
    for _ in range(3):
        study.tell(ask(study, "dead"), 1.0)
    running = ask(study, "dead")
    failed = ask(study, "dead")
    study.tell(failed, state=TrialState.FAIL)  # a real failure counts as run
    todo = ledger.plan(study, 10)
    assert todo.adopted == ["dead"]
    assert todo.n_trials == 10 - 4  # owes what it did not run; not n_trials more
    assert [t.number for t in todo.stale] == [running.number]


def test_a_live_sweep_is_left_alone(study: optuna.Study) -> None:
    record(study, "alive", 10)  # this very process
    ask(study, "alive")
    todo = ledger.plan(study, 5)
    assert (todo.n_trials, todo.adopted, todo.stale) == (5, [], [])


def test_a_reused_pid_is_not_the_same_process(study: optuna.Study) -> None:
    record(study, "reused", 10, start="0")  # our pid, another start time
    assert not ledger.is_alive(ledger.records(study)["reused"])
    assert ledger.plan(study, 5).adopted == ["reused"]


def test_another_host_is_judged_by_its_heartbeat(study: optuna.Study) -> None:
    now = time.time()
    record(study, "fresh", 4, host="elsewhere", pid=1, heartbeat=now - 5)
    record(study, "silent", 4, host="elsewhere", pid=1, heartbeat=now - 2 * ledger.STALE_AFTER_S)
    assert ledger.plan(study, 9).adopted == ["silent"]


def test_adopted_records_are_adopted_once(study: optuna.Study) -> None:
    record(study, "first", 10, pid=dead_pid())
    record(study, "second", 6, pid=dead_pid(), adopts=["first"])  # it took over, then died
    study.tell(ask(study, "second"), 1.0)
    todo = ledger.plan(study, 10)
    assert todo.adopted == ["second"] and todo.n_trials == 5


def test_an_interrupted_sweep_that_owed_nothing_adds_nothing(study: optuna.Study) -> None:
    record(study, "done", 2, state="interrupted")
    for _ in range(2):
        study.tell(ask(study, "done"), 1.0)
    assert ledger.plan(study, 10).n_trials == 0  # the next run only records the front


def test_a_finished_sweep_lets_the_next_run_add_n_trials(study: optuna.Study) -> None:
    record(study, "done", 2, state="finished")
    assert ledger.plan(study, 10).n_trials == 10


def test_an_unowned_running_trial_waits_only_for_a_live_sweep(study: optuna.Study) -> None:
    orphan = ask(study, None)  # killed between ask() and tagging the trial
    assert [t.number for t in ledger.plan(study, 3).stale] == [orphan.number]
    record(study, "alive", 3)  # a live sweep may be about to tag it
    assert ledger.plan(study, 3).stale == []


def test_interrupted_trials_are_requeued_once(study: optuna.Study) -> None:
    trial = ask(study, "gone")
    trial.set_user_attr(ledger.INTERRUPTED_ATTR, "stopped")
    study.tell(trial, state=TrialState.FAIL)
    assert ledger.requeue(study) == [trial.number]
    assert ledger.requeue(study) == []  # already waiting
    again = study.ask(SPACE)
    assert again.params == trial.params
    assert again.user_attrs[ledger.RETRY_ATTR] == trial.number


def test_the_heartbeat_writes_the_record_and_its_final_state(study: optuna.Study) -> None:
    todo = ledger.plan(study, 3)
    beat = ledger.Heartbeat(study, todo)
    beat.start()
    assert ledger.is_alive(ledger.records(study)[todo.uid])
    beat.close("interrupted")
    assert ledger.records(study)[todo.uid]["state"] == "interrupted"
    assert ledger.plan(study, 3).adopted == [todo.uid]
