"""Hydra 1.3: what its public API lacks for dse's sweepers and launcher.

Reach-ins (pinned by tests/runtime/test_adapters.py):
- ``BasicSweeper`` (``hydra._internal``): the grid sweeper extends it: the grid's
  expansion, batching and ``hydra.sweeper.params`` exactly as ``-m a=1,2`` always did;
- ``apply_overrides`` / ``overrides_dirname`` / ``config_repository``: the launcher's
  composition cache applies a job's value overrides with Hydra's own code;
- ``Callbacks``: a ``HydraContext`` for benchmarks and tests that run jobs themselves.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

if TYPE_CHECKING:
    from hydra.core.override_parser.types import Override
    from hydra.core.utils import JobReturn
    from omegaconf import DictConfig

__all__ = [
    "BasicSweeper",
    "apply_overrides",
    "callbacks",
    "config_repository",
    "job_exception",
    "overrides_dirname",
]


def job_exception(ret: JobReturn) -> BaseException | None:
    """The exception a job raised, None when it completed. Public: ``JobReturn.return_value``
    raises it; Hydra also writes "Error executing job with overrides" to stderr then, which
    the sweepers' own one-line report replaces (so stderr is held back here)."""
    from hydra.core.utils import JobStatus

    if ret.status == JobStatus.COMPLETED:
        return None
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            ret.return_value  # noqa: B018 (raises the job's exception)
    except BaseException as err:  # what the job raised, KeyboardInterrupt included
        return err
    return None


def apply_overrides(overrides: Sequence[Override], config: DictConfig) -> None:
    """Apply value overrides (``quantizer.bits=4``) to a composed config, as composition does
    (reach-in: ``ConfigLoaderImpl._apply_overrides_to_config``)."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl

    ConfigLoaderImpl._apply_overrides_to_config(list(overrides), config)


def overrides_dirname(
    overrides: Sequence[Override], kv_sep: str, item_sep: str, exclude_keys: Sequence[str]
) -> str:
    """``hydra.job.override_dirname`` of a job's task overrides (reach-in:
    ``hydra._internal.config_loader_impl.get_overrides_dirname``)."""
    from hydra._internal.config_loader_impl import get_overrides_dirname

    return get_overrides_dirname(
        overrides=list(overrides), kv_sep=kv_sep, item_sep=item_sep, exclude_keys=exclude_keys
    )


def config_repository(loader: Any, config_name: str | None, hydra_overrides: list[str]) -> Any:
    """The config repository a sweep's jobs are composed from (search path included): its
    ``group_exists(name)`` tells a config group from a plain key exactly as Hydra does
    (reach-in: ``ConfigLoaderImpl._parse_overrides_and_create_caching_repo``)."""
    _, repository = loader._parse_overrides_and_create_caching_repo(config_name, hydra_overrides)
    return repository


def callbacks(config: DictConfig | None = None) -> Any:
    """Hydra's callbacks of ``config`` (``hydra.callbacks``), as ``HydraContext`` takes them
    (reach-in: ``hydra._internal.callbacks.Callbacks``)."""
    from hydra._internal.callbacks import Callbacks

    return Callbacks(config)
