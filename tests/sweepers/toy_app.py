"""A tiny Hydra app standing in for `dse` in the sweeper tests.

It records one MLflow child run per design point with the orchestrator's own tracking
helpers (parent run from dse.tracking.SweepCallback), so the sweeper is exercised against
real MLflow and Optuna stores in milliseconds per trial. Two knobs make outcomes certain
whatever the sampler proposes: ``fail_trial`` raises in that Optuna trial, and
``cheat_trial`` returns a point that dominates everything but breaks ``area_mm2 <= 2``.
"""

from __future__ import annotations

import os
import signal

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from dse.tracking import runs as tracking
from dse.tracking.names import design_run_name


@hydra.main(version_base="1.3", config_path=None, config_name="config")
def main(cfg: DictConfig) -> dict:
    client = tracking.connect(cfg.tracking.uri)
    exp = tracking.experiment_id(client, cfg.tracking.experiment)
    parent = tracking.read_parent_run_id(HydraConfig.get().sweep.dir)
    hydra_cfg = HydraConfig.get()  # named as dse names a sweep's design points: "t3 x=5 y=0.375"
    name = design_run_name(cfg, {}, list(hydra_cfg.overrides.task), hydra_cfg.job.num)
    run_id = tracking.start_design_run(client, exp, cfg, {}, name, parent)
    trial = int(cfg.tracking.tags.get("optuna_trial", -1))
    # +fail_x_at_least=N: every design point with x >= N raises (grids, all-failed sweeps)
    if trial == cfg.fail_trial >= 0 or cfg.x >= cfg.get("fail_x_at_least", float("inf")):
        err = RuntimeError(f"toy design point {trial} (x={cfg.x}) diverged")
        tracking.fail_design_run(client, run_id, err)
        raise err
    x, y = float(cfg.x), float(cfg.y)
    metrics = {
        "snn_accuracy": 50.0 + 8.0 * x - 10.0 * (y - 0.5) ** 2,
        "energy_uj": x * x * (1.0 + y),
        "area_mm2": 0.3 * x,
    }
    if trial == cfg.cheat_trial >= 0:
        metrics = {"snn_accuracy": 999.0, "energy_uj": 0.001, "area_mm2": 5.0}
    # +die_in_trial=N / +die_after_trial=N: kill -9 in that trial, before / after its run
    # finished (the sweeper was not told yet either way)
    if trial >= 0 and trial == cfg.get("die_in_trial"):
        os.kill(os.getpid(), signal.SIGKILL)
    tracking.finish_design_run(client, run_id, metrics, {})
    if trial >= 0 and trial == cfg.get("die_after_trial"):
        os.kill(os.getpid(), signal.SIGKILL)
    return {**metrics, "mlflow_run_id": run_id}


if __name__ == "__main__":
    main()
