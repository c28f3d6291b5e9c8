"""Ctrl-C and ``kill`` (SIGTERM) as one exception, so a run or sweep that is stopped closes
what it opened (Optuna trial FAIL, MLflow runs KILLED) and ends in one line.

Python turns SIGINT into ``KeyboardInterrupt``; :func:`signals_interrupt` makes SIGTERM do
the same (as :class:`Interrupted`), so one ``except KeyboardInterrupt`` cleans up after
both. ``kill -9`` cannot be caught: the next run of a study cleans up after it instead
(see ``hydra_plugins/dse_optuna_sweeper``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType


class Interrupted(KeyboardInterrupt):
    """A signal stopped the run: ``signum`` says which."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def signal_name(err: BaseException) -> str:
    """``SIGTERM`` for an :class:`Interrupted`, ``SIGINT`` for a plain KeyboardInterrupt."""
    return signal.Signals(getattr(err, "signum", signal.SIGINT)).name


def exit_code(err: BaseException) -> int:
    """The shell's convention for a process stopped by a signal: 128 + its number."""
    return 128 + int(getattr(err, "signum", signal.SIGINT))


def _raise(signum: int, frame: object) -> None:
    raise Interrupted(signum)


@contextlib.contextmanager
def signals_interrupt() -> Iterator[None]:
    """Inside: SIGTERM raises :class:`Interrupted` in the main thread (SIGINT already
    raises KeyboardInterrupt). Outside a main thread it changes nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """Cleanup that a second Ctrl-C or SIGTERM must not cut short: both are ignored inside."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """A short step that must not be cut in half (create a run and learn its id): a
    Ctrl-C or SIGTERM inside is raised when the step is done, not lost."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    old = {
        s: signal.signal(s, lambda signum, frame: caught.append(signum))
        for s in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
    if caught:
        raise Interrupted(caught[0])


def stop(err: BaseException, what: str) -> SystemExit:
    """The one line for an interrupted ``what`` (on stderr); raise the returned SystemExit."""
    print(f"interrupted ({signal_name(err)}): {what}", file=sys.stderr, flush=True)
    return SystemExit(exit_code(err))


def _exit_while_starting(signum: int, frame: FrameType | None) -> None:
    # Nothing is open yet: no cleanup to run, and an exception raised in the middle of an
    # import (torch, MLflow) would only print a traceback from deep inside it.
    sys.stderr.write(
        f"interrupted ({signal.Signals(signum).name}): dse stopped while starting; "
        "nothing recorded\n"
    )
    sys.stderr.flush()
    os._exit(128 + signum)


def exit_while_starting() -> dict[int, Callable | int | None]:
    """From the first line of ``dse``'s entry module until :func:`main` takes over: Ctrl-C or
    SIGTERM end the process with one line and exit 128 + the signal, whatever import is
    running (seconds of torch, Hydra and MLflow). Returns the handlers it replaced."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {s: signal.signal(s, _exit_while_starting) for s in (signal.SIGINT, signal.SIGTERM)}


def restore(handlers: dict[int, Callable | int | None]) -> None:
    """Put back the handlers :func:`exit_while_starting` replaced."""
    for s, handler in handlers.items():
        signal.signal(s, handler if handler is not None else signal.SIG_DFL)
