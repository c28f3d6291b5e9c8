"""Taking a chosen design out: at the end of a sweep each front point's network is logged
as an MLflow PyTorch model on its child run (:class:`FrontModels`, a Hydra callback in
conf/config.yaml; off with ``tracking.log_models=false``), and ``dse export <run id> DIR``
writes the same bundle to a folder. The model itself: :mod:`dse.point.export`."""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from dse.api.errors import DseError
from dse.api.interfaces import PLUGIN_GROUPS

log = logging.getLogger(__name__)

TAG_MODEL = "dse.logged_model"  # "runs:/<id>/model" on a run whose network was logged (dse.model is the model plugin)
DEFAULT_URI = "sqlite:///outputs/mlflow.db"


@dataclass
class LoggedModels:
    """What :func:`log_front_models` did, and what it cost."""

    logged: list[str]  # run ids
    skipped: dict[str, str]  # run id -> why
    seconds: float
    bytes: int


def _run_config(client: Any, run_id: str, folder: Path) -> dict[str, Any]:
    """The run's resolved config (its ``config.yaml`` artifact: plain YAML, read safely)."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # one file: no bar
    path = client.download_artifacts(run_id, "config.yaml", str(folder))
    return yaml.safe_load(Path(path).read_text())


def _take_out(client: Any, run: Any, folder: Path) -> Any:
    """The run's network from the stage cache (:func:`dse.point.export.take_out`)."""
    from dse.point.export import design_point, take_out

    plain = _run_config(client, run.info.run_id, folder)
    choices = {g: run.data.tags.get(f"dse.{g}", "") for g in PLUGIN_GROUPS}
    return take_out(design_point(plain, choices))


def log_model(client: Any, run: Any) -> tuple[int, str | None]:
    """Log the run's network as ``runs:/<id>/model``; (bytes, None) or (0, why not)."""
    from mlflow.entities import Metric, RunTag

    from dse.point.export import MODEL_DIR, bundle_bytes, save_bundle

    run_id = run.info.run_id
    with tempfile.TemporaryDirectory(prefix="dse-model-") as tmp:
        taken = _take_out(client, run, Path(tmp))
        if taken is None:
            return 0, "its network is not in the stage cache"
        folder = save_bundle(taken, Path(tmp) / MODEL_DIR)
        client.log_artifacts(run_id, str(folder), MODEL_DIR)
        size = bundle_bytes(folder)
    recorded = run.data.metrics.get("test_ann_accuracy")
    tags = {TAG_MODEL: f"runs:/{run_id}/{MODEL_DIR}"}
    if recorded is not None and recorded != taken.test_accuracy:  # never expected: say so
        tags["dse.logged_model.mismatch"] = f"{taken.test_accuracy} vs recorded {recorded}"
        log.warning("run %s: the logged model scores %s, recorded %s", run_id, *tags.values())
    now = int(time.time() * 1000)
    client.log_batch(
        run_id,
        metrics=[Metric("model_test_accuracy", taken.test_accuracy, now, 0)],
        tags=[RunTag(k, v) for k, v in tags.items()],
    )
    return size, None


def front_runs(client: Any, parent_run_id: str) -> list[Any]:
    """The sweep's finished children tagged Pareto-optimal."""
    from dse.front.store import child_runs

    runs = child_runs(client, parent_run_id, where="tags.`dse.pareto_optimal` = 'true'")
    return [r for r in runs if r.info.status == "FINISHED"]


def log_front_models(client: Any, parent_run_id: str) -> LoggedModels:
    """Each front point of the sweep without a model yet gets one (a resumed sweep's
    earlier ones are kept); the time and bytes it took go on the parent
    (``front_models_seconds``, ``front_models_bytes``)."""
    from mlflow.entities import Metric

    started = time.perf_counter()
    logged, skipped, size = [], {}, 0
    for run in front_runs(client, parent_run_id):
        if TAG_MODEL in run.data.tags:
            continue
        n, why = log_model(client, run)
        if why is None:
            logged.append(run.info.run_id)
            size += n
        else:
            skipped[run.info.run_id] = why
    seconds = time.perf_counter() - started
    if logged:
        now = int(time.time() * 1000)
        client.log_batch(
            parent_run_id,
            metrics=[
                Metric("front_models_seconds", seconds, now, 0),
                Metric("front_models_bytes", float(size), now, 0),
            ],
        )
    return LoggedModels(logged, skipped, seconds, size)


class FrontModels(Callback):
    """Hydra callback: at the end of a multirun, the front's networks as MLflow models."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from dse.tracking.runs import connect, read_parent_run_id

        if not OmegaConf.select(config, "tracking.log_models", default=True):
            return
        uri = OmegaConf.select(config, "tracking.uri")
        parent = read_parent_run_id(config.hydra.sweep.dir)
        if uri is None or parent is None:
            return
        try:
            done = log_front_models(connect(str(uri)), parent)
        except Exception as err:  # Hydra would turn it into a warning few people see
            print(f"warning: the front's networks were not logged as MLflow models ({err})")
            log.debug("front models", exc_info=True)
            return
        if done.logged:
            print(
                f"Front networks logged as MLflow models on {len(done.logged)} runs "
                f"({done.seconds:.1f} s, {done.bytes / 1e6:.2f} MB); load one with "
                f'mlflow.pytorch.load_model("runs:/{done.logged[0]}/model") '
                "(pickle: load only stores you trust) or `dse export <run id> DIR`"
            )
        for run_id, why in done.skipped.items():
            print(f"No model logged for run {run_id}: {why}")


# --------------------------------------------------------------------------- dse export


def export(client: Any, run_id: str, folder: Path) -> list[str]:
    """The run's bundle in ``folder``: its artifacts (``model/`` when it was logged,
    ``config.yaml``, ``workload.json``, the hardware breakdown) and ``run.json`` (its
    metrics, params and tags); a run without a logged model gets one built from the stage
    cache. Nothing is unpickled. Returns the files written, relative to ``folder``."""
    from mlflow.exceptions import MlflowException

    from dse.point.export import MODEL_DIR, save_bundle

    try:
        run = client.get_run(run_id)
    except MlflowException:
        raise DseError(f"run {run_id!r}: no such run in this tracking store") from None
    folder.mkdir(parents=True, exist_ok=True)
    client.download_artifacts(run_id, "", str(folder))
    if not (folder / MODEL_DIR / "MLmodel").exists():
        with tempfile.TemporaryDirectory(prefix="dse-export-") as tmp:
            taken = _take_out(client, run, Path(tmp))
        if taken is None:
            raise DseError(
                f"run {run_id}: no model was logged and its network is not in the stage "
                "cache (cache.dir of its config.yaml, relative to this folder): run its "
                "design point again here, then export"
            )
        save_bundle(taken, folder / MODEL_DIR)
    info = {
        "run_id": run_id,
        "run_name": run.info.run_name,
        "metrics": dict(run.data.metrics),
        "params": dict(run.data.params),
        "tags": {k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")},
    }
    (folder / "run.json").write_text(json.dumps(info, indent=2, sort_keys=True))
    return sorted(str(f.relative_to(folder)) for f in folder.rglob("*") if f.is_file())


def export_main(argv: list[str]) -> int:
    """``dse export <run id> DIR [--tracking-uri URI]``."""
    from dse.tracking.runs import connect

    parser = argparse.ArgumentParser(
        prog="dse export",
        description="Write a design run's bundle (MLflow PyTorch model, weights.pt, "
        "config.yaml, hardware report, run.json) to a folder.",
    )
    parser.add_argument("run_id")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--tracking-uri", default=DEFAULT_URI, help=f"default {DEFAULT_URI}")
    args = parser.parse_args(argv)
    files = export(connect(args.tracking_uri), args.run_id, args.folder)
    print(f"wrote {len(files)} files to {args.folder}: " + ", ".join(files[:8]))
    print(
        f'load: mlflow.pytorch.load_model("{args.folder / "model"}") (pickle: only bundles you '
        "trust), or torch.load(model/weights.pt, weights_only=True) into dse's module"
    )
    return 0


__all__ = ["TAG_MODEL", "FrontModels", "LoggedModels", "export", "export_main", "log_front_models"]
