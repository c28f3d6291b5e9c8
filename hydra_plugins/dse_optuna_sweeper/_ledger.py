"""Who runs which trials of a study, so that the next run can clean up after a dead one.

Each invocation of the sweeper writes one record on the study (user attr
``dse.sweep.<id>``: host, pid, process start time, how many trials it owes, a heartbeat,
a state) and tags each trial it asks with its id (trial user attr ``dse.sweep``). Optuna's
own heartbeat is for ``study.optimize`` on a database; this works with ask/tell and with
every storage (journal file included).

A record is *dead* when its process is gone (same host: the pid is not alive, or another
process now has it) or, on another host, when its heartbeat is older than
``STALE_AFTER_S``. The next invocation of the study *adopts* every dead or interrupted
record nobody adopted yet: it fails their trials left RUNNING, re-queues the design
points those trials were running, and runs what the adopted invocations still owed
instead of ``n_trials`` more (so a sweep that is killed and rerun ends with the trials
it was asked for). Adoption is one write (the new record lists what it adopts), so a
kill in the middle leaves either the old records or the new one in charge, never both.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

RECORD_PREFIX = "dse.sweep."
OWNER_ATTR = "dse.sweep"  # on each trial: the id of the invocation that asked it
INTERRUPTED_ATTR = "dse.interrupted"  # on a trial failed because its process stopped
RETRY_ATTR = "dse.retry_of"  # on a re-queued trial: the number of the one it replaces
HEARTBEAT_S = 30.0
STALE_AFTER_S = 4 * HEARTBEAT_S
# A trial asked a moment ago may not carry its owner yet (ask, then set_user_attr).
UNOWNED_GRACE_S = 60.0


def process_start(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (Linux), to tell a reused pid from the original."""
    try:
        stat = open(f"/proc/{pid}/stat").read()  # noqa: PTH123, SIM115 - one short read
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22: starttime in clock ticks


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return True


def is_alive(record: dict[str, Any], now: float | None = None) -> bool:
    """Whether the process that wrote ``record`` may still be running its sweep."""
    if record.get("state") != "running":
        return False
    if record.get("host") == socket.gethostname():
        pid = int(record.get("pid", -1))
        if pid <= 0 or not _pid_alive(pid):
            return False
        started = record.get("start")
        return started is None or process_start(pid) in (None, started)
    beat = float(record.get("heartbeat", record.get("started_at", 0.0)))
    return (now or time.time()) - beat < STALE_AFTER_S


def records(study: optuna.Study) -> dict[str, dict[str, Any]]:
    """The study's invocation records, by id."""
    return {
        k[len(RECORD_PREFIX) :]: v
        for k, v in study.user_attrs.items()
        if k.startswith(RECORD_PREFIX) and isinstance(v, dict)
    }


def finished_by(trials: Iterable[FrozenTrial], uid: str) -> int:
    """Trials of invocation ``uid`` that ran to an end (interrupted ones do not count)."""
    from optuna.trial import TrialState

    return sum(
        t.user_attrs.get(OWNER_ATTR) == uid
        and t.state.is_finished()
        and t.state != TrialState.WAITING
        and INTERRUPTED_ATTR not in t.user_attrs
        for t in trials
    )


@dataclass
class Plan:
    """What this invocation does: its record, the trials it must settle first, how many
    trials it runs."""

    uid: str
    n_trials: int
    adopted: list[str] = field(default_factory=list)
    owed: int = 0  # trials the adopted invocations still owed
    stale: list[FrozenTrial] = field(default_factory=list)  # RUNNING, their process gone


def plan(study: optuna.Study, n_trials: int) -> Plan:
    """Find dead or interrupted invocations and their stale trials (nothing is written)."""
    from optuna.trial import TrialState

    now = time.time()
    recs = records(study)
    adopted_already = {a for r in recs.values() for a in r.get("adopts", [])}
    orphans = [
        uid
        for uid, r in recs.items()
        if uid not in adopted_already
        and r.get("state") in ("running", "interrupted")
        and not is_alive(r, now)
    ]
    trials = study.get_trials(deepcopy=False)
    alive = {uid for uid, r in recs.items() if is_alive(r, now)}
    stale = []
    for t in trials:
        if t.state != TrialState.RUNNING:
            continue
        owner = t.user_attrs.get(OWNER_ATTR)
        if owner is None:  # its process died inside ask(), or a live one is about to tag it
            started = t.datetime_start.timestamp() if t.datetime_start else now
            if not alive or now - started > UNOWNED_GRACE_S:
                stale.append(t)
        elif owner not in alive:
            stale.append(t)
    owed = sum(
        max(0, int(recs[uid].get("n_trials", 0)) - finished_by(trials, uid)) for uid in orphans
    )
    # After an interruption the same command finishes what was asked (possibly nothing
    # left: then it only records the front); otherwise it adds n_trials.
    return Plan(uuid.uuid4().hex[:12], owed if orphans else n_trials, orphans, owed, stale)


def requeue(study: optuna.Study) -> list[int]:
    """Enqueue the design point of every interrupted trial not re-queued yet; returns
    their numbers."""
    trials = study.get_trials(deepcopy=False)
    done = {t.user_attrs.get(RETRY_ATTR) for t in trials}
    again = []
    for t in trials:
        if INTERRUPTED_ATTR in t.user_attrs and t.number not in done and t.params:
            study.enqueue_trial(t.params, user_attrs={RETRY_ATTR: t.number})
            again.append(t.number)
    return again


class Heartbeat:
    """This invocation's record, written at start and refreshed every ``HEARTBEAT_S``."""

    def __init__(self, study: optuna.Study, plan: Plan) -> None:
        self.study = study
        self.key = RECORD_PREFIX + plan.uid
        self.record: dict[str, Any] = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "start": process_start(os.getpid()),
            "started_at": time.time(),
            "heartbeat": time.time(),
            "n_trials": plan.n_trials,
            "adopts": plan.adopted,
            "state": "running",
        }
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._write()  # one write: the record, and the adoption of the dead ones
        self._thread = threading.Thread(target=self._beat, name="dse-heartbeat", daemon=True)
        self._thread.start()

    def _write(self) -> None:
        with self._lock:
            self.study.set_user_attr(self.key, dict(self.record))

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            self.record["heartbeat"] = time.time()
            try:
                self._write()
            except Exception:  # a storage hiccup: the next beat tries again
                pass

    def close(self, state: str) -> None:
        """Stop beating; the record's final state (``finished`` or ``interrupted``)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.record["state"] = state
        self._write()
