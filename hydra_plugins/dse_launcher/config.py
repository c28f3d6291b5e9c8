"""Structured config of the launcher, stored in Hydra's ConfigStore as hydra/launcher=dse_local."""

# No `from __future__ import annotations`: Hydra's plugin scan executes this module outside
# sys.modules, where dataclasses cannot resolve string annotations.
from dataclasses import dataclass

from hydra.core.config_store import ConfigStore


@dataclass
class DseLocalLauncherConf:
    _target_: str = "hydra_plugins.dse_launcher.dse_launcher.DseLocalLauncher"


ConfigStore.instance().store(
    group="hydra/launcher", name="dse_local", node=DseLocalLauncherConf, provider="snn-dse"
)
