"""Structured config of the grid sweeper, stored in Hydra's ConfigStore as
hydra/sweeper=dse_grid (the keys of Hydra's basic sweeper)."""

# No `from __future__ import annotations`: Hydra's plugin scan executes this module outside
# sys.modules, where dataclasses cannot resolve string annotations.
from dataclasses import dataclass

from hydra.core.config_store import ConfigStore


@dataclass
class DseGridSweeperConf:
    _target_: str = "hydra_plugins.dse_grid_sweeper.dse_grid_sweeper.DseGridSweeper"
    max_batch_size: int | None = None  # jobs per batch; None: the whole grid at once
    params: dict[str, str] | None = None  # sweep axes, e.g. {quantizer.bits: "3,4,5"}


ConfigStore.instance().store(
    group="hydra/sweeper", name="dse_grid", node=DseGridSweeperConf, provider="snn-dse"
)
