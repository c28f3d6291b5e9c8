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


# `${dse_run_id:}` in conf/config.yaml's hydra.run.dir and hydra.sweep.dir: this process's
# id plus a random part, so two runs started in the same second never share a folder (the
# pid differs between live processes on a host, the random part between hosts). Registered
# here because Hydra's plugin scan imports this module before any config is composed.
def _register_run_id() -> None:
    import os
    import secrets

    from omegaconf import OmegaConf

    if not OmegaConf.has_resolver("dse_run_id"):
        run_id = f"{os.getpid()}-{secrets.token_hex(2)}"
        OmegaConf.register_new_resolver("dse_run_id", lambda: run_id, use_cache=True)


_register_run_id()


# `${dse_job_files:${hydra.mode}}` in conf/config.yaml's hydra.output_subdir: Hydra's copies
# of a job's config (.hydra/config.yaml, hydra.yaml, overrides.yaml) for a single run, none
# for a sweep's jobs, whose config their MLflow run and artifacts/config.yaml already hold
# (three YAML dumps are about a third of Hydra's own cost per job).
def _register_job_files() -> None:
    from omegaconf import OmegaConf

    def job_files(mode: object) -> str | None:
        return None if getattr(mode, "name", str(mode)) == "MULTIRUN" else ".hydra"

    if not OmegaConf.has_resolver("dse_job_files"):
        OmegaConf.register_new_resolver("dse_job_files", job_files)


_register_job_files()
