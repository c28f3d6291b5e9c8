"""Run names a person can tell apart in MLflow's run list (dse.tracking.names)."""

from __future__ import annotations

from omegaconf import OmegaConf

from dse.tracking.names import design_run_name, job_settings


def test_run_names_start_with_the_trial_and_what_the_job_chose() -> None:
    cfg = OmegaConf.create(
        {
            "tracking": {"tags": {"optuna_trial": 57}},
            "coding": {"time_window": 2},
            "quantizer": {"bits": 3},
            "hardware": {"num_pes": 74},
        }
    )
    overrides = [
        "experiment=pareto_digits",
        "training.epochs=1",
        "quantizer.bits=3",
        "coding.time_window=2",
        "hardware.num_pes=74",
        "++tracking.tags.optuna_trial=57",
    ]
    assert job_settings(overrides) == {
        "training.epochs": "1",
        "quantizer.bits": "3",
        "coding.time_window": "2",
        "hardware.num_pes": "74",
    }
    assert design_run_name(cfg, {}, overrides, job_num=3) == "t57 T2 3b 74PE 1ep"
    del cfg.tracking.tags["optuna_trial"]  # a grid job: its number
    grid = ["coding=rate", "coding.time_window=8", "training.lr=0.00123456"]
    assert design_run_name(cfg, {}, grid, job_num=4) == "j4 T8 rate lr=0.00123"
    choices = {"coding": "ttfs_log", "quantizer": "log", "training": "cat"}
    choices["hardware"] = "ttfs_processor"
    assert design_run_name(cfg, choices) == "ttfs_log T2 log 3b cat ttfs_processor 74PE"
    # Alone, the network comes first; keys that differ from its named config follow it.
    changed = {"model.pool_after": "[2,4]", "~model.hidden": None, "quantizer.scale": "channel"}
    marked = {**choices, "model": "fashion_cnn*", "quantizer": "log*"}
    assert design_run_name(cfg, marked, changed=changed) == (
        "fashion_cnn* pool_after=[2,4] ttfs_log T2 log* 3b cat ttfs_processor 74PE"
    )
    # In a sweep the job's settings say what differs between trials.
    assert design_run_name(cfg, marked, grid, job_num=4, changed=changed) == "j4 T8 rate lr=0.00123"
