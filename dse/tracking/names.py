"""What a person reads in MLflow's lists: a design point's run name and the experiment's
tags (its kind, so MLflow's UI opens it on the run list)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from omegaconf import DictConfig, OmegaConf

from dse.front.render import short_setting, short_settings

if TYPE_CHECKING:
    from mlflow import MlflowClient

# The experiment's kind in MLflow 3 (what its UI offers to set when it cannot infer one).
# MLflow 3.17.2's UI lands on the view of its global "GenAI | Model training" switch instead
# (dse.front.browse.WORKFLOW: the URLs dse prints pick the side).
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"

# Overridden keys that do not describe the design (bookkeeping of the run or the sweep).
_NOT_DESIGN = ("tracking.", "paths.", "cache.", "search.", "hydra.", "hydra/", "experiment")


def experiment_tags() -> dict[str, str]:
    """Tags a new experiment is created with: it opens on its run list."""
    return {EXPERIMENT_KIND_TAG: EXPERIMENT_KIND}


def ensure_experiment_kind(client: MlflowClient, experiment_id: str, tags: Mapping) -> None:
    """Tag an experiment created before the kind was set (an older store); a kind someone
    chose in the UI is kept."""
    if EXPERIMENT_KIND_TAG not in tags:
        client.set_experiment_tag(experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND)


def job_settings(task_overrides: Sequence[str]) -> dict[str, str]:
    """The design keys a job's overrides set (``quantizer.bits=3``, ``coding=rate``), in order."""
    out: dict[str, str] = {}
    for line in task_overrides:
        key, sep, value = line.lstrip("+~").partition("=")
        if sep and not key.startswith(_NOT_DESIGN):
            out[key] = value
    return out


def design_run_name(
    cfg: DictConfig,
    choices: Mapping[str, str],
    task_overrides: Sequence[str] = (),
    job_num: int | None = None,
    changed: Mapping[str, str | None] | None = None,
) -> str:
    """A design point's run name: unique within its sweep, what varies first.

    In a sweep: ``t57 T2 3b 74PE`` (Optuna trial 57) or ``j4 T8 5b`` (grid job 4): the
    trial or job number, then the settings the job's overrides chose, short. MLflow's run
    list cuts names at ~20 characters, so the distinguishing part comes first. A single
    design point gets its full chain, the network first: ``small_cnn ttfs_log T8 log 5b
    cat ttfs_processor 256PE``; with ``changed`` (override key -> value, None: deleted)
    the model's changed keys follow its name, which ``choices`` marks
    (``fashion_cnn* pool_after=[2,4] batch_norm=false ttfs_log ...``).
    """
    tags = OmegaConf.select(cfg, "tracking.tags") or {}
    trial = tags.get("optuna_trial")
    prefix = f"t{trial}" if trial is not None else f"j{job_num}" if job_num is not None else ""
    settings = job_settings(task_overrides) if prefix else {}
    text = short_settings(settings, list(settings))
    if not text:
        network = {k: v for k, v in (changed or {}).items() if k.lstrip("+~").startswith("model.")}
        full = {
            "model": choices.get("model"),
            **network,  # two networks never share a name
            "coding": choices.get("coding"),
            "coding.time_window": OmegaConf.select(cfg, "coding.time_window"),
            "quantizer": choices.get("quantizer"),
            "quantizer.bits": OmegaConf.select(cfg, "quantizer.bits"),
            "training": choices.get("training"),
            "hardware": choices.get("hardware"),
            "hardware.num_pes": OmegaConf.select(cfg, "hardware.num_pes"),
        }
        text = " ".join(short_setting(k, v) for k, v in full.items() if v is not None)
    return " ".join(p for p in (prefix, text) if p)


__all__ = [
    "EXPERIMENT_KIND",
    "EXPERIMENT_KIND_TAG",
    "design_run_name",
    "ensure_experiment_kind",
    "experiment_tags",
    "job_settings",
]
