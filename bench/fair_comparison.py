"""TTFS, rate and ANN processors priced on one network per task, at the same memory
configuration (issue 22, "Fair comparisons").

Per task one network, its measured (or stated) activity, priced on ``ttfs_processor``,
``rate_processor`` and ``ann_accelerator`` with the defaults of conf/hardware/ (256 PEs,
16 columns, 200 MHz, 28 nm, the leading-one TTFS fire, clock/registers/wires modelled, no
calibration), in two memory configurations, the same for all three processors:

* resident: weight SRAM = the smallest power of two of KB holding the network's weights
  (loaded once; no per-inference DRAM);
* streamed: the default 256 KB weight SRAM with ``weight_residency=streamed``: every weight
  fetched from DRAM once per inference (batch 1, nothing retained).

Tasks:

* digits: trained here, in-process, in seconds (small_cnn, 5-bit log weights, 2 epochs
  each): the TTFS network (ttfs_log T = 8, max pooling) prices ttfs_processor and
  ann_accelerator (dense: activity-independent); a rate-coded network of the same
  architecture with average pooling (coding=rate, T = 8, model.pool=avg, as DESIGN.md 10
  says rate coding is compared) prices rate_processor with its own measured activity;
* Fashion-MNIST: measured validation-split workloads of the README's Fashion-MNIST design
  points (each run's artifacts/workload.json), copied into bench/workloads/: CAT + TTFS-log
  (log 5-bit, T = 8, max pooling, `dse experiment=fashion`) for ttfs_processor and
  ann_accelerator, CAT + rate (log 5-bit, T = 8, average pooling, `dse experiment=fashion
  model.pool=avg coding=rate hardware=rate_processor coding.time_window=8
  training.epochs=1`) for rate_processor; this script does not train Fashion-MNIST;
* VGG-16 (CIFAR-10 size): static workload with stated assumed activity (dse-estimate's
  convention): TTFS r = 0.1 spikes per neuron (10 % fire); rate: r = 0.8 spikes per
  neuron over T = 8 (= 0.1 of the 8 spikes a neuron can emit: the same 10 % of the
  maximum); input 1 spike per pixel (TTFS) and 8 x 0.5 per pixel (rate: mean pixel 0.5).
  Assumptions, not measurements.

Run: .venv/bin/python bench/fair_comparison.py [--markdown]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import tempfile
import time
from pathlib import Path

from dse.api.interfaces import HardwareReport
from dse.api.workload import Workload
from dse.cli.estimate import assumed_activity, load_hardware, model_workload

ROOT = Path(__file__).resolve().parents[1]
FASHION = ROOT / "bench" / "workloads" / "fashion_cat_log5_T8.json"
FASHION_RATE = ROOT / "bench" / "workloads" / "fashion_cat_rate_T8_avg.json"
PROCESSORS = ("ttfs_processor", "rate_processor", "ann_accelerator")
T = 8


def train_digits(coding: str, pool: str, epochs: int = 2) -> Workload:
    """One digits design point trained and simulated in-process; its test workload."""
    from hydra import compose, initialize_config_dir

    from dse.point.cache import StageCache  # noqa: I001  (local: torch is imported by the stages)
    from dse.point.pipeline import DesignPoint, build_plugins
    from dse.registry.discovery import CONF_DIR
    from dse.registry.schema import register_schemas

    register_schemas()
    with tempfile.TemporaryDirectory() as tmp:
        overrides = [
            f"coding={coding}",
            "hardware=" + ("ttfs_processor" if coding == "ttfs_log" else "rate_processor"),
            f"coding.time_window={T}",
            f"model.pool={pool}",
            f"training.epochs={epochs}",
            f"paths.outputs={tmp}",
            "cache.enabled=false",
        ]
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = compose(config_name="config", overrides=overrides)
        plugins = build_plugins(cfg)
        choices = {"coding": coding}
        point = DesignPoint(cfg, plugins, StageCache(cfg.cache.dir, False), choices)
        result = point.run()
    m = result.measurements["test"]
    print(
        f"  digits {coding} ({pool} pool, {epochs} epochs): SNN test accuracy "
        f"{m.snn_accuracy:.1f} %, ANN {m.ann_accuracy:.1f} %",
        file=sys.stderr,
    )
    return m.workload


def vgg16_workloads() -> tuple[Workload, Workload]:
    ttfs = model_workload("vgg16", 32, 3, 10, 5, "log", "ttfs_log", T, 16)
    rate = model_workload("vgg16", 32, 3, 10, 5, "log", "rate", T, 16, overrides=["model.pool=avg"])
    return assumed_activity(ttfs, 0.1, 1.0), assumed_activity(rate, 0.8, 0.5 * T)


def resident_kb(workload: Workload) -> float:
    kb = sum(layer.num_weights * layer.weight_bits for layer in workload.layers) / 8192
    return float(2 ** math.ceil(math.log2(max(kb, 1.0))))


def price(name: str, workload: Workload, memory: str, kb: float) -> HardwareReport:
    sets = (
        [f"weight_sram_kb={kb:g}"]
        if memory == "resident"
        else ["weight_residency=streamed", "weight_sram_kb=256"]
    )
    return load_hardware(name, sets).estimate(workload)


@dataclasses.dataclass
class Row:
    task: str
    memory: str
    processor: str
    report: HardwareReport | None
    spikes: float
    ops: float  # synaptic operations (SNN) or MACs (ANN)
    why_missing: str = ""


def table(tasks: dict[str, dict[str, Workload | None]]) -> list[Row]:
    rows = []
    for task, works in tasks.items():
        kb = resident_kb(next(w for w in works.values() if w is not None))
        for memory in ("resident", "streamed"):
            for proc in PROCESSORS:
                w = works.get(proc)
                if w is None:
                    rows.append(Row(task, memory, proc, None, 0, 0, works.get("_why", "")))  # type: ignore[arg-type]
                    continue
                r = price(proc, w, memory, kb)
                ann = proc == "ann_accelerator"
                ops = (
                    sum(x.connections for x in w.layers if x.kind != "pool")
                    if ann
                    else w.total_synops
                )
                rows.append(Row(task, memory, proc, r, 0 if ann else w.total_spikes, ops))
    return rows


def markdown(rows: list[Row], kbs: dict[str, float]) -> str:
    head = (
        "| task | weights | processor | energy µJ [band] | compute | SRAM | DRAM | leakage "
        "| spikes | synaptic ops (ANN: MACs) |"
    )
    out = [head, "|" + "---|" * 10]
    for r in rows:
        mem = f"resident ({kbs[r.task]:g} KB)" if r.memory == "resident" else "streamed (DRAM)"
        if r.report is None:
            out.append(f"| {r.task} | {mem} | {r.processor} | {r.why_missing} | | | | | | |")
            continue
        b, (lo, hi) = r.report.breakdown, r.report.band_uj
        out.append(
            f"| {r.task} | {mem} | {r.processor} | {r.report.energy_uj:.4g} [{lo:.3g}-{hi:.3g}] "
            f"| {b.compute_uj:.3g} | {b.sram_uj:.3g} | {b.dram_uj:.3g} | {b.leakage_uj:.3g} "
            f"| {r.spikes:,.0f} | {r.ops:,.0f} |"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    started, cpu = time.perf_counter(), time.process_time()
    print("training digits (in-process) ...", file=sys.stderr)
    d_ttfs = train_digits("ttfs_log", "max")
    d_rate = train_digits("rate", "avg")
    tasks: dict[str, dict] = {
        "digits": {
            "ttfs_processor": d_ttfs,
            "rate_processor": d_rate,
            "ann_accelerator": d_ttfs,
        }
    }
    if FASHION.is_file():
        f = Workload.load(FASHION)
        rate = Workload.load(FASHION_RATE) if FASHION_RATE.is_file() else None
        tasks["Fashion-MNIST"] = {
            "ttfs_processor": f,
            "rate_processor": rate,
            "ann_accelerator": f,
            "_why": f"{FASHION_RATE.relative_to(ROOT)} missing (not priced)",
        }
    else:
        print(
            f"NOTE: {FASHION.relative_to(ROOT)} is missing: the Fashion-MNIST rows are left "
            "out (the Fashion-MNIST benchmark writes it; Workload.save JSON)",
            file=sys.stderr,
        )
    v_ttfs, v_rate = vgg16_workloads()
    tasks["VGG-16 (assumed activity)"] = {
        "ttfs_processor": v_ttfs,
        "rate_processor": v_rate,
        "ann_accelerator": v_ttfs,
    }
    kbs = {
        t: resident_kb(next(w for k, w in ws.items() if k != "_why" and w is not None))
        for t, ws in tasks.items()
    }
    rows = table({t: {k: v for k, v in ws.items()} for t, ws in tasks.items()})
    print(markdown(rows, kbs))
    print(
        f"\n{time.perf_counter() - started:.1f} s wall, {time.process_time() - cpu:.1f} s CPU "
        "(training the two digits networks included)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
