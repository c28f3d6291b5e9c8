"""A sweep stopped by Ctrl-C or SIGTERM cancels the submitit jobs it launched.

Hydra's submitit launcher submits a batch (``executor.map_array``) and waits on the jobs'
results; when the sweep's process is interrupted the jobs live on: SLURM keeps running
them, ``submitit_local``'s job processes outlive their parent. While a sweeper hands a
batch to such a launcher, :func:`cancelled_if_interrupted` records the jobs submitit
returns and, when the wait ends in an interrupt (or any other exception), cancels those
not finished with submitit's own ``Job.cancel`` (``scancel`` on SLURM, SIGINT to a local
job's process: its design point then closes its MLflow run KILLED).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

log = logging.getLogger(__name__)


def _is_submitit(launcher: Any) -> bool:
    return any("submitit" in cls.__module__ for cls in type(launcher).__mro__)


@contextlib.contextmanager
def cancelled_if_interrupted(launcher: Any) -> Iterator[None]:
    """Around ``launcher.launch(...)``: its submitit jobs cancelled if the block raises."""
    if not _is_submitit(launcher):
        yield
        return
    from submitit.core import core

    jobs: list[Any] = []
    submit_batch = core.Executor.map_array

    def recording(self: Any, fn: Any, *iterable: Any) -> list[Any]:
        batch = submit_batch(self, fn, *iterable)
        jobs.extend(batch)
        return batch

    core.Executor.map_array = recording  # type: ignore[method-assign]
    try:
        yield
    except BaseException:
        running = [job for job in jobs if not job.done()]
        for job in running:
            try:
                job.cancel(check=False)
            except Exception as err:  # e.g. scancel missing: say so, keep cancelling
                log.warning("submitit job %s not cancelled: %s", job.job_id, err)
        if running:
            log.info("cancelled %d submitit job(s) of this sweep", len(running))
        raise
    finally:
        core.Executor.map_array = submit_batch  # type: ignore[method-assign]
