"""Jobs run one after another in this process, like Hydra's basic launcher, without its
full composition per job.

Hydra's basic launcher composes every job's config from scratch: the defaults tree, every
YAML file, the schema merge. In a Pareto search that is ~150 ms per trial, most of a
cache-hit trial's cost, although consecutive trials differ only in a few values
(``quantizer.bits=4``). This launcher composes once per distinct set of *structural*
overrides (config-group choices such as ``quantizer=uniform``, and anything under
``hydra.``) and applies each job's *value* overrides to a copy of that config with Hydra's
own override logic, then runs the job through Hydra's ``run_job`` (output directory,
logging, callbacks, ``.hydra/`` files, as usual). The resulting config is the one Hydra
would compose: ``tests/sweepers/test_launcher.py`` checks that key by key.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.core.utils import (
    JobReturn,
    configure_log,
    filter_overrides,
    run_job,
    setup_globals,
)
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict

from dse.runtime.adapters.hydra import apply_overrides, config_repository, overrides_dirname
from dse.runtime.redact import redact

# Registers the ConfigStore entry when Hydra's plugin discovery imports this module.
from hydra_plugins.dse_launcher import config as _config  # noqa: F401

log = logging.getLogger(__name__)


# Young-generation threshold once the heap is settled (Python's default: 700 allocations).
GC_THRESHOLD0 = 10_000


def _settle_heap() -> None:
    """Once per process, after its first job: collect, then move every object alive (torch,
    MLflow, the dataset, the first trial's lazy imports) out of the garbage collector's
    reach (``gc.freeze``) and collect the young generation less often. A full collection
    of that heap cost ~0.45 s, a few times per 40 cache-hit trials: 38 ms of GC per trial,
    9 after the freeze, 5.5 with the threshold (bench/trial_floor.py's sweep, 2 cores)."""
    import gc

    global _heap_settled
    if _heap_settled:
        return
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD0, *gc.get_threshold()[1:])
    _heap_settled = True


_heap_settled = False


class DseLocalLauncher(Launcher):
    """Sequential in-process launcher with a composition cache (see the module docstring)."""

    def __init__(self) -> None:
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None
        self.task_function: TaskFunction | None = None
        self._parser = OverridesParser.create()
        # structural overrides -> the composed config, pickled: unpickling a copy for each
        # job costs a third of a deepcopy (2.7 vs 7.4 ms for the default search's config)
        self._composed: dict[tuple[str, ...], bytes] = {}
        self._repository: Any = None

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.config = config
        self.hydra_context = hydra_context
        self.task_function = task_function
        self._composed.clear()
        # The config repository Hydra composes this sweep's jobs from (search path included),
        # to tell config groups from plain keys exactly as Hydra does.
        self._repository = config_repository(
            hydra_context.config_loader,
            config.hydra.job.config_name,
            list(config.hydra.overrides.hydra),
        )

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        assert self.config is not None and self.hydra_context is not None
        assert self.task_function is not None
        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        log.info("Launching %d jobs in this process", len(job_overrides))
        returns = []
        for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
            log.info("\t#%d : %s", idx, redact(" ".join(filter_overrides(overrides))))
            job_config = self.job_config(list(overrides))
            with open_dict(job_config):
                job_config.hydra.job.id = idx
                job_config.hydra.job.num = idx
            returns.append(
                run_job(
                    hydra_context=self.hydra_context,
                    task_function=self.task_function,
                    config=job_config,
                    job_dir_key="hydra.sweep.dir",
                    job_subdir_key="hydra.sweep.subdir",
                )
            )
            configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
            _settle_heap()
        return returns

    def job_config(self, overrides: list[str]) -> DictConfig:
        """The config Hydra's ``load_sweep_config`` would give for ``overrides``."""
        assert self.config is not None and self.hydra_context is not None
        parsed = self._parser.parse_overrides(overrides)
        is_value = [self._is_value_override(o) for o in parsed]
        values = [o for o, v in zip(parsed, is_value, strict=True) if v]
        structural = tuple(o.input_line for o, v in zip(parsed, is_value, strict=True) if not v)
        base = self._composed.get(structural)
        if base is None:
            composed = self.hydra_context.config_loader.load_sweep_config(
                self.config, list(structural)
            )
            base = pickle.dumps(composed, protocol=pickle.HIGHEST_PROTOCOL)
            self._composed[structural] = base
        job_config = pickle.loads(base)  # our own bytes, made above: never read from disk
        if not values:
            return job_config
        apply_overrides(values, job_config)
        task = [o for o in parsed if not o.is_hydra_override()]
        hydra_job = job_config.hydra.job
        job_config.hydra.overrides.task = [o.input_line for o in task]
        hydra_job.override_dirname = overrides_dirname(
            task,
            kv_sep=hydra_job.config.override_dirname.kv_sep,
            item_sep=hydra_job.config.override_dirname.item_sep,
            exclude_keys=hydra_job.config.override_dirname.exclude_keys,
        )
        OmegaConf.copy_cache(from_config=self.config, to_config=job_config)
        return job_config

    def _is_value_override(self, override: Override) -> bool:
        """A plain ``key=value`` on the task's config: not a group choice, not Hydra's own."""
        if override.is_hydra_override() or override.is_sweep_override():
            return False
        if override.package is not None:
            return False
        return not self._repository.group_exists(override.key_or_group)
