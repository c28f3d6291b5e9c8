"""dse-estimate: price a network on the hardware models without training it.

The activity comes from an assumed spike rate (:func:`assumed_activity`) or from a saved
workload file (``Workload.save`` JSON, e.g. written by a design point). Models and
hardware models are plugins found as ``dse`` finds them (built-ins, ``--config-dir``
folders, entry points), composed by Hydra and validated exactly as in a design point, so
``--set num_pes=64`` or ``--set technology=45nm`` behave like ``hardware.num_pes=64`` and
``hardware/technology=45nm`` on the ``dse`` command line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from dse.api.errors import DseError, require
from dse.api.interfaces import HardwareModel, HardwareReport, ModelBuilder
from dse.api.workload import DEFAULT_INPUT_RATE, DEFAULT_SPIKE_RATE, Workload, assumed_activity
from dse.point.guards import check_report
from dse.registry.discovery import available_plugins, compose_plugin, register_entry_point_plugins


def model_workload(
    model: str,
    input_size: int,
    channels: int,
    num_classes: int,
    weight_bits: int,
    weight_format: str,
    coding: str,
    time_window: int,
    accumulator_bits: int,
    overrides: list[str] | None = None,
    config_dirs: list[Path] | None = None,
) -> Workload:
    """The static workload (no activity) of the model plugin ``model`` (a built-in, one in
    ``config_dirs`` or an entry point); ``overrides`` as for ``dse``, e.g. ``model.hidden=64``."""
    from dse.api.architecture import static_workload

    builder: ModelBuilder = compose_plugin("model", model, overrides, config_dirs)
    arch = builder.build((channels, input_size, input_size), num_classes)
    return static_workload(
        arch,
        weight_bits=weight_bits,
        weight_format=weight_format,  # type: ignore[arg-type]
        coding=coding,
        time_window=time_window,
        accumulator_bits=accumulator_bits,
    )


def load_hardware(
    name: str, overrides: list[str] | None = None, config_dirs: list[Path] | None = None
) -> HardwareModel:
    """The hardware plugin ``name``, composed and validated as ``dse`` does it.

    ``overrides`` are ``key=value`` strings relative to the hardware node;
    ``technology=<node>`` selects ``conf/hardware/technology/<node>.yaml``.
    """
    return compose_plugin("hardware", name, _hardware_overrides(overrides), config_dirs)


def _hardware_overrides(overrides: list[str] | None) -> list[str]:
    out = []
    for item in overrides or []:
        require("=" in item, "--set", "must be key=value", item)
        key, value = item.split("=", 1)
        key = key.removeprefix("hardware.")
        if key.startswith("model."):
            continue  # the model's, not the hardware's
        out.append(
            f"hardware/technology={value}" if key == "technology" else f"hardware.{key}={value}"
        )
    return out


def _model_overrides(overrides: list[str]) -> list[str]:
    return [item for item in overrides if item.startswith("model.")]


def hardware_names(choice: str, config_dirs: list[Path] | None = None) -> list[str]:
    """``--hardware``: one plugin name, a comma-separated list, or ``all`` of them."""
    known = [info.name for info in available_plugins(config_dirs)["hardware"]]
    return known if choice == "all" else [name.strip() for name in choice.split(",")]


# ----------------------------------------------------------------------------- output


def format_report(name: str, hw: object, report: HardwareReport, workload: Workload) -> str:
    """A readable per-layer table with totals."""
    head = (
        f"{'layer':<9}{'kind':<7}{'neurons':>9}{'synops M':>10}{'compute':>9}{'sram':>9}"
        f"{'dram':>9}{'leak':>8}{'total uJ':>10}{'cycles':>10}{'util':>6}"
    )
    tech = getattr(hw, "tech", None)
    lines = [
        f"== {name}: {getattr(hw, 'num_pes', '?')} PEs, {getattr(hw, 'clock_mhz', '?')} MHz, "
        f"{tech.name if tech else '?'} ==",
        *(f"NOTE: {note}" for note in report.notes),
        head,
        "-" * len(head),
    ]
    for layer, cost in zip(workload.layers, report.layers, strict=True):
        e = cost.energy
        lines.append(
            f"{cost.name:<9}{layer.kind:<7}{layer.neurons:>9d}{cost.synops / 1e6:>10.3f}{e.compute_uj:>9.2f}"
            f"{e.sram_uj:>9.2f}{e.dram_uj:>9.2f}{e.leakage_uj:>8.2f}{e.total_uj:>10.2f}"
            f"{cost.cycles:>10d}{cost.pe_utilization:>6.0%}"
        )
    b = report.breakdown
    lines += [
        "-" * len(head),
        f"{'total':<25}{sum(c.synops for c in report.layers) / 1e6:>10.3f}{b.compute_uj:>9.2f}"
        f"{b.sram_uj:>9.2f}{b.dram_uj:>9.2f}{b.leakage_uj:>8.2f}{report.energy_uj:>10.2f}"
        f"{report.cycles:>10d}{report.pe_utilization:>6.0%}",
        f"energy {report.energy_uj:.4g} uJ, band {report.band_uj[0]:.4g}-{report.band_uj[1]:.4g} "
        f"(on chip {report.energy_uj - b.dram_uj:.4g} uJ){_calibration(report)}   "
        f"latency {report.latency_ms:.4g} ms   area {report.area_mm2:.4g} mm2   "
        f"{report.pj_per_synop:.4g} pJ per synaptic operation",
    ]
    return "\n".join(lines)


def _calibration(report: HardwareReport) -> str:
    return "" if report.calibration == 1.0 else f", calibrated x{report.calibration:.4g}"


def format_comparison(reports: dict[str, HardwareReport]) -> str:
    head = (
        f"{'hardware':<17}{'energy uJ':>11}{'band uJ':>21}{'on-chip uJ':>12}"
        f"{'latency ms':>12}{'area mm2':>10}"
    )
    lines = [head, "-" * len(head)]
    for name, r in reports.items():
        low, high = r.band_uj
        lines.append(
            f"{name:<17}{r.energy_uj:>11.2f}{f'{low:.2f}-{high:.2f}':>21}"
            f"{r.energy_uj - r.breakdown.dram_uj:>12.2f}{r.latency_ms:>12.4g}{r.area_mm2:>10.3f}"
        )
    base_name, base = next(iter(reports.items()))  # the first one named is the reference
    if base.energy_uj > 0:
        for name, r in reports.items():
            if name != base_name:
                lines.append(f"{name} / {base_name} energy: {r.energy_uj / base.energy_uj:.3f}x")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="dse-estimate",
        description=(
            "Estimate energy, latency and area of one inference on the hardware models "
            "WITHOUT training: the activity is an assumed spike rate (default "
            f"{DEFAULT_SPIKE_RATE}) or read from a saved workload file."
        ),
        epilog=(
            "Example: dse-estimate --model vgg16 --input-size 32 --num-classes 10 "
            "--hardware all --set num_pes=64 --set technology=45nm"
        ),
    )
    p.add_argument(
        "--model",
        default="vgg16",
        help="a model plugin (dse --list-plugins): built-in, in --config-dir or an entry point",
    )
    p.add_argument("--input-size", type=int, default=32, help="input height = width (pixels)")
    p.add_argument("--channels", type=int, default=3, help="input channels")
    p.add_argument("--num-classes", type=int, default=10)
    p.add_argument(
        "--hardware",
        default="ttfs_processor",
        help="hardware plugin(s) to price: a name, names joined by commas (the first is the "
        "reference of the comparison) or all",
    )
    p.add_argument(
        "--config-dir",
        dest="config_dirs",
        action="append",
        type=Path,
        default=[],
        metavar="DIR",
        help="a folder of your plugin configs (<group>/<name>.yaml), as for dse; repeatable",
    )
    p.add_argument("--weight-bits", type=int, default=5, help="storage bits per weight")
    p.add_argument("--weight-format", choices=["log", "uniform", "float"], default="log")
    p.add_argument("--coding", default="ttfs_log", help="coding name recorded in the workload")
    p.add_argument("--time-window", type=int, default=8, help="time steps T of the coding")
    p.add_argument("--accumulator-bits", type=int, default=16, help="membrane potential width")
    p.add_argument(
        "--spike-rate",
        type=float,
        default=None,
        help=f"spikes per neuron per inference (default {DEFAULT_SPIKE_RATE}; "
        "with --workload: replaces the file's activity)",
    )
    p.add_argument(
        "--input-rate",
        type=float,
        default=None,
        help=f"spikes per input pixel (default {DEFAULT_INPUT_RATE}: every pixel fires once)",
    )
    p.add_argument(
        "--workload",
        type=Path,
        default=None,
        help="Workload JSON (Workload.save); overrides --model",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override, repeatable: hardware keys (num_pes=64, clock_mhz=100, technology=45nm) "
        "or model keys (model.hidden=64)",
    )
    p.add_argument("--json", action="store_true", help="print machine-readable JSON only")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        register_entry_point_plugins()
        # Every hardware config is checked before the model is built.
        names = hardware_names(args.hardware, args.config_dirs)
        models = {name: load_hardware(name, args.overrides, args.config_dirs) for name in names}
        if args.workload is not None:
            require(
                args.workload.is_file(),
                "--workload",
                "must be an existing file",
                str(args.workload),
            )
            workload = Workload.load(args.workload)
            if args.spike_rate is not None:
                workload = assumed_activity(workload, args.spike_rate, args.input_rate)
        else:
            for flag, value in (
                ("--input-size", args.input_size),
                ("--channels", args.channels),
                ("--num-classes", args.num_classes),
                ("--weight-bits", args.weight_bits),
                ("--time-window", args.time_window),
                ("--accumulator-bits", args.accumulator_bits),
            ):
                require(value >= 1, flag, "must be >= 1", value)
            static = model_workload(
                args.model,
                args.input_size,
                args.channels,
                args.num_classes,
                args.weight_bits,
                args.weight_format,
                args.coding,
                args.time_window,
                args.accumulator_bits,
                _model_overrides(args.overrides),
                args.config_dirs,
            )
            rate = DEFAULT_SPIKE_RATE if args.spike_rate is None else args.spike_rate
            workload = assumed_activity(static, rate, args.input_rate)
        reports = {name: hw.estimate(workload) for name, hw in models.items()}
        for name, report in reports.items():
            check_report(report, name)
    except DseError as err:
        print(f"dse-estimate: error: {err}", file=sys.stderr)
        return 2
    if args.json:
        out = {
            "workload": {
                "network": workload.network,
                "coding": workload.coding,
                "time_window": workload.time_window,
                "accumulator_bits": workload.accumulator_bits,
                "source": workload.source,
                "total_synops": workload.total_synops,
                "total_spikes": workload.total_spikes,
                "total_weights": workload.total_weights,
            },
            "reports": {name: dataclasses.asdict(r) for name, r in reports.items()},
        }
        print(json.dumps(out, indent=2))
        return 0
    first = workload.layers[0] if workload.layers else None
    print(
        f"{workload.network}  coding {workload.coding}  T={workload.time_window}  "
        f"accumulator {workload.accumulator_bits} bits  weights "
        f"{first.weight_bits if first else '?'}-bit {first.weight_format if first else ''}\n"
        f"activity: {workload.source}   synops {workload.total_synops:.4g}   "
        f"spikes {workload.total_spikes:.4g}   weights {workload.total_weights:,}\n"
    )
    for name, report in reports.items():
        print(format_report(name, models[name], report, workload) + "\n")
    if len(reports) > 1:
        print(format_comparison(reports))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
