"""Hydra's basic (grid) sweeper, recording the sweep's front and handling failed jobs.

Every job of the grid runs (the design points are independent); a failed one is logged
in one line and the grid goes on. After each batch the jobs' results go to
:class:`dse.tracking.SweepRecorder`, which updates the front, Pareto tags and hypervolume
on the MLflow parent run from the jobs' return values (as for the Optuna sweeper). At the
end the parent run is closed: FINISHED and the front printed, or, when some job failed,
FAILED with the reason (tag ``dse.error``), the finished runs and their front kept, and the
command ends with one line ``error: ...`` (exit status 1) instead of Hydra's traceback.
Composition errors still fail before any job runs, as in Hydra.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from omegaconf import OmegaConf

# Registers the ConfigStore entry when Hydra's plugin discovery imports this module.
from hydra_plugins.dse_grid_sweeper import config as _config  # noqa: F401

log = logging.getLogger(__name__)


def job_error(ret: JobReturn) -> str:
    """The exception a failed job raised, on one line."""
    err = ret._return_value  # JobReturn keeps a failed job's exception here
    from dse.errors import DseError

    text = " ".join(str(err).split())
    return text if isinstance(err, DseError) else f"{type(err).__name__}: {text}"


class DseGridSweeper(BasicSweeper):
    """Grid over the comma-separated overrides, like Hydra's basic sweeper; a failed job
    does not stop the grid, and a grid with failures ends in one line with the MLflow
    parent run FAILED (see the module docstring)."""

    def sweep(self, arguments: list[str]) -> Any:
        assert self.config is not None and self.launcher is not None
        assert self.hydra_context is not None
        params_conf = self._parse_config()
        params_conf.extend(arguments)
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        self.overrides = self.split_arguments(
            parser.parse_overrides(params_conf), self.max_batch_size
        )
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")

        recorder = self._recorder()
        returns: list[Sequence[JobReturn]] = []
        failed: list[str] = []
        done = 0
        while not self.is_done():
            batch = self.get_job_batch()
            tic = time.perf_counter()
            self.validate_batch_is_legal(batch)  # composition errors: before any job runs
            log.debug("validated %d jobs in %.2f s", len(batch), time.perf_counter() - tic)
            results = self.launcher.launch(batch, initial_job_idx=done)
            for idx, (overrides, ret) in enumerate(zip(batch, results, strict=True), done):
                if ret.status != JobStatus.COMPLETED:
                    where = " ".join(filter_overrides(overrides))
                    failed.append(f"job #{idx} ({where}): {job_error(ret)}")
                    log.warning("[job %d] %s -> FAILED: %s", idx, where, job_error(ret))
                if recorder is not None:
                    recorder.add(ret)
            done += len(batch)
            returns.append(results)
            if recorder is not None and not self.is_done():
                recorder.record()  # tags and hypervolume as the grid goes; files at the end
        message = None
        if failed:
            more = f" (and {len(failed) - 1} more, see the log above)" if len(failed) > 1 else ""
            message = (
                f"{len(failed)} of {done} jobs failed; the {done - len(failed)} finished runs "
                f"are kept. First: {failed[0]}{more}"
            )
        if recorder is not None:
            from dse.tracking import print_front

            summary = recorder.finish(message)
            if summary is not None and message is None:
                print_front(summary, recorder.parent or "", recorder.uri or "")
        if message is not None:
            raise SystemExit(f"error: {message}")  # one line, no traceback
        return returns

    def _recorder(self) -> Any:
        """The front's recorder, for a dse app (one with tracking and search keys)."""
        assert self.config is not None
        if OmegaConf.select(self.config, "tracking.uri") is None:
            return None  # another Hydra app: nothing recorded in MLflow
        if not OmegaConf.select(self.config, "search.objectives"):
            return None
        from dse.tracking import SweepRecorder

        return SweepRecorder(self.config)
