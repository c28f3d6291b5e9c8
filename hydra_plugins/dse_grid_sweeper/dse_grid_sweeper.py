"""Hydra's basic (grid) sweeper, recording the sweep's front and handling failed jobs.

Every job of the grid runs (the design points are independent); a failed one is logged
in one line and the grid goes on. After each batch the jobs' results go to
:class:`dse.tracking.SweepRecorder`, which updates the front, Pareto tags and hypervolume
on the MLflow parent run from the jobs' return values (as for the Optuna sweeper). At the
end the parent run is closed: FINISHED and the front printed, or, when some job failed,
FAILED with the reason (tag ``dse.error``), the finished runs and their front kept, and the
command ends with one line ``error: ...`` (exit status 1) instead of Hydra's traceback.
Composition errors still fail before any job runs, as in Hydra. The lifecycle (checks,
parent run, job results, signals) is the Optuna sweeper's too: hydra_plugins/dse_sweep.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn, filter_overrides
from omegaconf import OmegaConf

from dse.runtime.adapters.hydra import BasicSweeper
from hydra_plugins.dse_grid_sweeper import config as _config  # noqa: F401 (ConfigStore entry)
from hydra_plugins.dse_launcher._submitit import cancelled_if_interrupted
from hydra_plugins.dse_sweep import lifecycle

log = logging.getLogger(__name__)


class DseGridSweeper(BasicSweeper):
    """Grid over the comma-separated overrides, like Hydra's basic sweeper; a failed job
    does not stop the grid, and a grid with failures ends in one line with the MLflow
    parent run FAILED (see the module docstring)."""

    def setup(self, *, hydra_context: Any, task_function: Any, config: Any) -> None:
        super().setup(hydra_context=hydra_context, task_function=task_function, config=config)
        self.task_function = task_function

    def sweep(self, arguments: list[str]) -> Any:
        self._recorder_: Any = None
        return lifecycle.guarded(lambda: self._sweep(arguments), self._interrupted, self._fail)

    def _fail(self, error: str, status: str = "FAILED") -> None:
        """An error after the parent run opened: the parent FAILED with it, not RUNNING."""
        assert self.config is not None
        lifecycle.close_parent(self.config, error, status)

    def _interrupted(self, err: BaseException) -> str:
        """The running job's MLflow run and the parent KILLED, the front of what finished
        kept."""
        from dse.runtime.interrupts import signal_name

        reason = f"interrupted by {signal_name(err)}"
        recorder = self._recorder_
        try:
            if recorder is not None:
                recorder.interrupted(reason)
            else:  # stopped before the first batch: the parent, if it was opened
                self._fail(reason, status="KILLED")
        except Exception as exc:  # the store failed too: the line still comes
            log.warning("could not close the MLflow runs: %s", exc)
        where = ""
        if recorder is not None and recorder.parent is not None:
            where = (
                f"; the finished runs and their front are on MLflow parent run {recorder.parent}"
            )
        return f"grid stopped{where}"

    def _sweep(self, arguments: list[str]) -> Any:
        from hydra.errors import HydraException

        from dse.api.errors import ConfigError

        assert self.config is not None and self.launcher is not None
        assert self.hydra_context is not None
        params_conf = self._parse_config()
        params_conf.extend(arguments)
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        try:
            self.overrides = self.split_arguments(
                parser.parse_overrides(params_conf), self.max_batch_size
            )
        except HydraException as err:
            raise ConfigError(f"overrides: {' '.join(str(err).split())}") from None
        if self.overrides and self.overrides[0]:
            lifecycle.preflight(
                self.config,
                self.hydra_context,
                self.task_function,
                self.overrides[0][0],
                "the grid does not compose",
            )
        lifecycle.prepare_sweep_dir(self.config)
        lifecycle.open_parent(self.config)  # after the checks: nothing opened before

        recorder = self._recorder()
        self._recorder_ = recorder
        objectives = recorder.objectives if recorder is not None else []
        constraints = recorder.constraints if recorder is not None else []
        returns: list[Sequence[JobReturn]] = []
        failed: list[str] = []
        done = 0
        while not self.is_done():
            batch = self.get_job_batch()
            tic = time.perf_counter()
            self.validate_batch_is_legal(batch)  # composition errors: before any job runs
            log.debug("validated %d jobs in %.2f s", len(batch), time.perf_counter() - tic)
            with cancelled_if_interrupted(self.launcher):  # submitit: jobs die with the sweep
                results = self.launcher.launch(batch, initial_job_idx=done)
            for idx, (overrides, ret) in enumerate(zip(batch, results, strict=True), done):
                result = lifecycle.job_result(ret, objectives, constraints)
                if result.raised:
                    where = " ".join(filter_overrides(overrides))
                    error = lifecycle.job_error(result)
                    failed.append(f"job #{idx} ({where}): {error}")
                    log.warning("[job %d] %s -> FAILED: %s", idx, where, error)
                if recorder is not None:
                    recorder.add(result)
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
            from dse.tracking.runs import print_front

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
        from dse.tracking.runs import SweepRecorder

        return SweepRecorder(self.config)
