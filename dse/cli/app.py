"""The ``dse`` command: one design point, or a sweep of them with ``-m``.

Besides Hydra's own flags, ``dse`` understands two of its own (they must come first):

* ``dse --list-plugins [--config-dir DIR]``: the plugins of every group, one line each;
* ``dse --clear-cache [overrides]``: delete the stage cache (``cache.dir``).
"""

# ruff: noqa: E402  (the imports follow the handler installed for their duration)
from __future__ import annotations

# First: a Ctrl-C while the imports below run (seconds) is one line and exit 130.
from dse.runtime.interrupts import exit_while_starting, restore

_STARTING_HANDLERS = exit_while_starting()

import logging
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

import hydra
import yaml
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from dse.api.errors import ConfigError, DseError
from dse.front.fidelity import FIDELITY_TAG
from dse.front.search import constraints_of
from dse.front.store import TAG_FEASIBLE
from dse.point import report
from dse.point.cache import StageCache
from dse.point.pipeline import DesignPoint, Plugins, build_plugins
from dse.point.prescreen import PRESCREEN_TAG, prescreen
from dse.registry.changes import changed_groups, config_changes, override_text
from dse.registry.discovery import (
    CONF_DIR,
    available_plugins,
    format_plugin_list,
    register_entry_point_plugins,
)
from dse.registry.schema import check_top_level, register_schemas
from dse.runtime.interrupts import deferred, shielded, signal_name, signals_interrupt, stop
from dse.runtime.redact import redact, redact_file
from dse.tracking import runs as tracking

log = logging.getLogger("dse")
_YAML_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's: 20x OmegaConf.save


def run_name(
    cfg: DictConfig, choices: dict[str, str], changes: dict[str, str | None] | None = None
) -> str:
    """``tracking.run_name``, else in a sweep ``t57 T2 3b 74PE`` (trial or job number, then
    the job's settings), alone the full chain with the model first, ``*`` on a plugin whose
    keys differ from its named config and the model's changed keys
    (``changes``: :func:`dse.registry.changes.config_changes`; see
    dse.tracking.names.design_run_name)."""
    from dse.tracking.names import design_run_name

    if cfg.tracking.run_name:
        return str(cfg.tracking.run_name)
    hydra_cfg = HydraConfig.get() if HydraConfig.initialized() else None
    if hydra_cfg is None or hydra_cfg.mode != RunMode.MULTIRUN:
        return design_run_name(cfg, starred(choices, changes or {}), changed=changes)
    return design_run_name(cfg, choices, list(hydra_cfg.overrides.task), hydra_cfg.job.num)


def starred(choices: dict[str, str], changes: dict[str, str | None]) -> dict[str, str]:
    """``fashion_cnn*``: a plugin whose keys differ from its named config is not that config."""
    marked = changed_groups(changes)
    return {g: f"{c}*" if g in marked else c for g, c in choices.items()}


# What a design point returns (dse.point.pipeline.DesignPointResult.metrics plus timings): the
# names search.objectives and search.constraints may use. A test runs a design point and
# compares, so this list cannot drift from the pipeline unnoticed.
SPLIT_METRICS = (
    "ann_accuracy",
    "snn_accuracy",
    "conversion_loss",
    "energy_uj",
    "energy_uj_low",  # the hardware model's band
    "energy_uj_high",
    "membrane_reads",
    "dram_uj",
    "latency_ms",
    "spikes_per_inference",
    "synops_per_inference",
    "pj_per_synop",
    "pe_utilization",
    "cycles",
    # NeuroBench's workload metrics by its definitions (dse/point/neurobench.py)
    "activation_sparsity",
    "synaptic_operations.Effective_MACs",
    "synaptic_operations.Effective_ACs",
    "synaptic_operations.Dense",
)
ACCUMULATOR_METRICS = ("truncated_products", "saturated_neurons")  # codings with a fixed point
RUN_METRICS = ("area_mm2", "calibration", "stage_seconds", "stage_cpu_seconds", "record_seconds")
# NeuroBench's static metrics, once per design point (connection_sparsity: when the coding's
# converted network exposes its weights, as the built-ins' do)
STATIC_METRICS = ("footprint", "footprint_stored", "connection_sparsity")
# Also returned, per layer and not searchable by name in advance: membrane_reads_<layer>.


def design_metrics(plugins: Plugins) -> set[str]:
    """The metric names a design point with these plugins returns (plain = validation)."""
    from dse.api.interfaces import SpikeCoding

    names = list(SPLIT_METRICS)
    if type(plugins.coding).accumulator is not SpikeCoding.accumulator:
        names += ACCUMULATOR_METRICS  # the coding models its accumulator and measures it
    split = {f"{split}{n}" for split in ("", "val_", "test_") for n in names}
    return split | set(RUN_METRICS) | set(STATIC_METRICS)


def check_search_metrics(cfg: DictConfig, produced: set[str]) -> None:
    """Every objective and constraint names a metric the design point returns."""
    from dse.front.search import constraints_of, objectives_of

    asked = [("search.objectives", o.metric) for o in objectives_of(cfg)]
    asked += [("search.constraints", c.metric) for c in constraints_of(cfg)]
    for where, metric in asked:
        if metric not in produced:
            plain = sorted(m for m in produced if not m.startswith(("val_", "test_")))
            raise ConfigError(
                f"{where}: {metric!r} is not a metric of this design point; use one of "
                f"{', '.join(plain)} (val_/test_ prefixes for a split)"
            )


def check_design_point(cfg: DictConfig) -> tuple[Plugins, Any, str]:
    """Everything that can be wrong with a design point's input, found before any work:
    the config, the plugins, the dataset's files, the tracking store. Returns the plugins,
    the MLflow client and the experiment id."""
    check_top_level(cfg)
    plugins = build_plugins(cfg)
    check_dataset = getattr(plugins.dataset, "check", None)
    if check_dataset is not None:
        check_dataset()
    client = tracking.connect(cfg.tracking.uri)
    exp_id = tracking.experiment_id(client, cfg.tracking.experiment, cfg.paths.outputs)
    return plugins, client, exp_id


def check_sweep_job(cfg: DictConfig) -> None:
    """The sweepers' check of one composed job before the first trial
    (``task_function.dse_preflight``): the design point's checks, and the search spec's
    metrics against those its plugins produce."""
    plugins, _, _ = check_design_point(cfg)
    check_search_metrics(cfg, design_metrics(plugins))


def _discard(folder: Path) -> None:
    """Remove the run folder of a design point that recorded nothing (Hydra made it)."""
    shutil.rmtree(folder, ignore_errors=True)


def run_design_point(cfg: DictConfig) -> dict[str, Any]:
    """The task function: validate, then data -> train -> convert -> simulate -> estimate
    -> record. Returns the metrics (plain names: validation split) and the MLflow run's id,
    name and params (``mlflow_run_id``, ``mlflow_run_name``, ``mlflow_params``).

    Ctrl-C or SIGTERM: the MLflow run KILLED, one line, exit status 128 + the signal."""
    with signals_interrupt():
        return _run_design_point(cfg)


def set_torch_threads(threads: int, hydra_cfg: Any) -> int:
    """torch's intra-op threads for this design point: ``threads``, or with 0 the cores
    shared among the jobs a parallel launcher (joblib, submitit_local) runs at once. Several torch threads
    per job in several concurrent jobs run many times slower than one each. Results differ
    slightly with the thread count (float sums in another order): docs/SCALING.md."""
    import os

    import torch

    if threads == 0:
        launcher = str(OmegaConf.select(hydra_cfg, "launcher._target_", default="") or "")
        # jobs of one sweep side by side on this machine: joblib, submitit's local launcher
        parallel = "joblib" in launcher or launcher.endswith("submitit_launcher.LocalLauncher")
        n_jobs = int(OmegaConf.select(hydra_cfg, "sweeper.n_jobs", default=1) or 1)
        if not parallel or n_jobs <= 1:
            return torch.get_num_threads()
        threads = max(1, (os.cpu_count() or 1) // n_jobs)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads


def mask_hydra_files(hydra_cfg: Any, out_dir: Path, multirun: bool) -> None:
    """Hydra's own copies of the command line and config (``<run>/.hydra/*.yaml``; a
    sweep's ``multirun.yaml``, which Hydra's basic sweeper writes as typed) with every
    password masked: a URL typed with its password is recorded nowhere."""
    if hydra_cfg.output_subdir:
        for path in (out_dir / str(hydra_cfg.output_subdir)).glob("*.yaml"):
            redact_file(path)
    if multirun:
        redact_file(Path(hydra_cfg.sweep.dir) / "multirun.yaml")


def _run_design_point(cfg: DictConfig) -> dict[str, Any]:
    hydra_cfg = HydraConfig.get()
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    choices = {g: str(hydra_cfg.runtime.choices.get(g)) for g in tracking.PLUGIN_GROUPS}
    out_dir = Path(hydra_cfg.runtime.output_dir)
    mask_hydra_files(hydra_cfg, out_dir, multirun)

    # Everything that can be wrong with the input is found here, before any work; a design
    # point that fails here records nothing and leaves no folder.
    try:
        plugins, client, exp_id = check_design_point(cfg)
    except DseError as err:
        _discard(out_dir)
        if multirun:
            raise
        raise SystemExit(f"error: {err}") from None
    except KeyboardInterrupt as err:
        _discard(out_dir)
        if multirun:
            raise
        raise stop(err, "the design point stopped before it started; nothing recorded") from None

    parent = tracking.read_parent_run_id(hydra_cfg.sweep.dir) if multirun else None
    # alone, what differs from the named configs is said (a sweep's names carry its settings)
    changes = (
        {} if multirun else config_changes(cfg, hydra_cfg.runtime.choices, hydra_cfg.searchpath)
    )
    name = run_name(cfg, choices, changes)
    plain = tracking.plain_config(cfg)  # once: the run's params, config.yaml, the sweeper's
    params = tracking.run_params(plain)
    with deferred():  # a signal while the run is created waits until its id is known
        # the params go with the run's last write (finish or fail): one write fewer
        run_id = tracking.start_design_run(client, exp_id, cfg, choices, name, parent, False)
    finished = False
    try:
        started, cpu_started = time.perf_counter(), time.process_time()
        set_torch_threads(cfg.threads, hydra_cfg)
        point = DesignPoint(cfg, plugins, StageCache(cfg.cache.dir, cfg.cache.enabled), choices)
        rejection = (
            prescreen(point, constraints_of(cfg)) if multirun and cfg.search.prescreen else None
        )
        if rejection is not None:  # infeasible whatever it trains to: never trained
            metrics = {
                **rejection.floor,
                "stage_seconds": time.perf_counter() - started,
                "stage_cpu_seconds": time.process_time() - cpu_started,
            }
            tags = {PRESCREEN_TAG: rejection.reason[:5000], TAG_FEASIBLE: "false"}
            with deferred():
                tracking.finish_design_run(client, run_id, metrics, tags, None, params)
                finished = True
            log.info("pre-screened: %s", rejection.reason)
            return {
                **metrics,
                "prescreened": rejection.reason,
                "prescreen_violations": rejection.violations,
                "mlflow_run_id": run_id,
                "mlflow_run_name": name,
                "mlflow_params": params,
            }
        result = point.run()
        # Where a design point's time goes: the stages vs. recording (bench/ reads these).
        metrics = {
            **result.metrics,
            "stage_seconds": time.perf_counter() - started,
            # CPU time of every thread of this process: what a busy machine cannot inflate
            "stage_cpu_seconds": time.process_time() - cpu_started,
        }
        artifacts = write_artifacts(cfg, result, out_dir / "artifacts", choices, plain)
        metrics["record_seconds"] = time.perf_counter() - started - metrics["stage_seconds"]
        tags = {f"dse.cache.{stage}": use for stage, use in result.cache_use.items()}
        tags[FIDELITY_TAG] = fidelity = point.fidelity
        if result.accumulator_status is not None:  # filterable: exact | truncates | ...
            tags["dse.accumulator"] = result.accumulator_status
        with deferred():  # the run ends FINISHED or, interrupted before, KILLED: never half
            tracking.finish_design_run(client, run_id, metrics, tags, artifacts, params)
            finished = True
    except BaseException as err:
        if not finished:  # a signal right after the run finished leaves it FINISHED
            with shielded():
                tracking.fail_design_run(client, run_id, err, params)
        if isinstance(err, KeyboardInterrupt) and not multirun:
            status = "FINISHED" if finished else "KILLED"
            raise stop(err, f"design point stopped; MLflow run {run_id} {status}") from None
        if isinstance(err, DseError) and not multirun:
            raise SystemExit(f"error: {err}") from None
        raise

    uri = cfg.tracking.uri
    where = f"MLflow run {run_id} in experiment '{cfg.tracking.experiment}' at {redact(uri)}"
    if multirun:
        log.info(
            "result: snn_accuracy %.2f %%, energy %.4g uJ (cache: %s)",
            metrics["snn_accuracy"],
            metrics["energy_uj"],
            ", ".join(f"{stage} {use}" for stage, use in result.cache_use.items()),
        )
    else:
        names = starred(choices, changes)
        labels = {
            **names,
            "training": f"{names['training']} ({_epochs_label(cfg.training)})",
            "quantizer": f"{names['quantizer']} {cfg.quantizer.get('bits', '?')}-bit",
            "coding": f"{names['coding']} T={cfg.coding.get('time_window', '?')}"
            + _accumulator_label(cfg.coding),
            "hardware": f"{names['hardware']} ({cfg.hardware.get('num_pes', '?')} PEs)",
        }
        changed = [override_text(k, v) for k, v in changes.items()]
        print(report.summary(labels, metrics, result.cache_use, where, changed))
        # a server is its own UI: the run's page; a local store: the command that serves it
        page = f"{str(uri).rstrip('/')}/#/experiments/{exp_id}/runs/{run_id}"
        print(f"  browse      {tracking.browse_command(uri) or page}")
    # the sweepers record the front from this (dse.tracking.SweepRecorder), not from MLflow
    return {
        **metrics,
        "fidelity": fidelity,
        "mlflow_run_id": run_id,
        "mlflow_run_name": name,
        "mlflow_params": params,
    }


def _epochs_label(training: DictConfig) -> str:
    """``30 epochs``, or ``1 of 3 epochs`` for a schedule stopped early (low fidelity)."""
    epochs, stop = training.get("epochs", "?"), training.get("stop_epoch")
    return f"{epochs} epochs" if stop in (None, epochs) else f"{stop} of {epochs} epochs"


def _accumulator_label(coding: DictConfig) -> str:
    bits, frac = coding.get("accumulator_bits"), coding.get("frac_bits")
    if bits is None:
        return ""
    return f", accumulator {bits} bits" + (f" ({frac} fractional)" if frac is not None else "")


def write_artifacts(
    cfg: DictConfig, result: Any, folder: Path, choices: dict, plain: dict | None = None
) -> Path:
    """The design point's files, in ``folder`` (MLflow logs the folder in one call):
    the resolved config (``plain``: :func:`dse.tracking.plain_config` of ``cfg``, when
    already made), the measured workload, the hardware breakdown (CSV, SVG chart)."""
    folder.mkdir(parents=True, exist_ok=True)
    plain = tracking.plain_config(cfg) if plain is None else plain
    config_yaml = yaml.dump(plain, Dumper=_YAML_DUMPER, sort_keys=False)
    (folder / "config.yaml").write_text(config_yaml)
    hw = result.reports["val"]
    result.measurements["val"].workload.save(folder / "workload.json")
    report.write_breakdown_csv(hw, folder / "hardware_breakdown.csv")
    if cfg.tracking.breakdown_chart:
        report.write_breakdown_svg(hw, folder / "hardware_breakdown.svg", choices["hardware"])
    return folder


def _task(cfg: DictConfig) -> dict[str, Any]:
    return run_design_point(cfg)


# dse's sweepers call this on one composed job before opening anything (see check_sweep_job)
_task.dse_preflight = check_sweep_job  # type: ignore[attr-defined]
_hydra_main = hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")(_task)


def _extra_config_dirs(argv: list[str]) -> list[Path]:
    dirs = []
    for i, arg in enumerate(argv):
        if arg in ("--config-dir", "-cd") and i + 1 < len(argv):
            dirs.append(Path(argv[i + 1]))
        elif arg.startswith("--config-dir="):
            dirs.append(Path(arg.split("=", 1)[1]))
    return dirs


def _clear_cache(overrides: list[str]) -> int:
    """Delete the stage cache's entries, and nothing else (see StageCache.clear)."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=overrides)
    removed = StageCache(cfg.cache.dir).clear()
    detail = ", ".join(f"{stage} {n}" for stage, n in sorted(removed.items()))
    total = sum(removed.values())
    print(
        f"removed {total} cache entries from {cfg.cache.dir}" + (f" ({detail})" if detail else "")
    )
    return 0


def main() -> None:
    """Console entry point ``dse``."""
    argv = sys.argv[1:]
    # From here a Ctrl-C is a KeyboardInterrupt (SIGTERM: signals_interrupt), which closes
    # what is open; each step below ends one in one line.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with signals_interrupt():
        try:
            try:
                register_schemas()
                register_entry_point_plugins()
                if argv[:1] == ["--list-plugins"]:
                    print(format_plugin_list(available_plugins(_extra_config_dirs(argv[1:]))))
                    return
                if argv[:1] == ["--clear-cache"]:
                    sys.exit(_clear_cache(argv[1:]))
                if argv[:1] == ["export"]:  # dse export <run id> DIR
                    from dse.cli.export import export_main

                    sys.exit(export_main(argv[1:]))
            except DseError as err:
                sys.exit(f"error: {err}")
            _hydra_main()
        except KeyboardInterrupt as err:  # Hydra's start-up, or another sweeper's multirun
            with shielded():  # Hydra's basic sweeper (or another): its parent run KILLED
                closed = tracking.close_open_parents("KILLED", f"interrupted ({signal_name(err)})")
            what = "the sweep's parent run KILLED" if closed else "before a design point started"
            raise stop(err, f"dse stopped {what}") from None


# Imported by the `dse` script: its handler stays until main() replaces it (the script calls
# main() next). Imported by anything else (tests, a user's code): its handlers come back.
if Path(getattr(sys.modules.get("__main__"), "__file__", None) or "").name != "dse":
    restore(_STARTING_HANDLERS)


if __name__ == "__main__":
    main()
