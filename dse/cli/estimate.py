"""dse-estimate: price a network on the hardware models without training it.

The activity comes from an assumed spike rate (:func:`assumed_activity`) or from a saved
workload file (``Workload.save`` JSON, e.g. written by a design point). Models and
hardware models are plugins found as ``dse`` finds them (built-ins, ``--config-dir``
folders, entry points), composed by Hydra and validated exactly as in a design point, and
chosen with ``dse``'s grammar: ``dse-estimate model=vgg16 hardware=ann_accelerator
hardware.num_pes=64 hardware/technology=45nm model.width_multiplier=0.5``
(:func:`parse_overrides`). The flags of earlier versions stay as aliases: ``--model X`` is
``model=X``, ``--hardware X`` is ``hardware=X``, ``--set num_pes=64`` is
``hardware.num_pes=64`` and ``--set technology=45nm`` is ``hardware/technology=45nm``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from dse.api.errors import ConfigError, DseError, require
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
    out = [_from_set(item) for item in overrides or []]
    return [item for item in out if not item.startswith("model.")]  # those are the model's


def _from_set(item: str) -> str:
    """A ``--set`` item (the earlier form) as the override ``dse`` takes: ``num_pes=64`` ->
    ``hardware.num_pes=64``, ``technology=45nm`` -> ``hardware/technology=45nm``."""
    require("=" in item, "--set", "must be key=value", item)
    key, value = item.split("=", 1)
    if key.startswith(("model.", "hardware/")):
        return item
    key = key.removeprefix("hardware.")
    return f"hardware/technology={value}" if key == "technology" else f"hardware.{key}={value}"


@dataclasses.dataclass(frozen=True)
class Selection:
    """What the overrides choose: the model, the hardware to price, the keys of each."""

    model: str = "vgg16"
    hardware: str = "ttfs_processor"  # a name, names joined by commas, or all
    model_overrides: tuple[str, ...] = ()
    hardware_overrides: tuple[str, ...] = ()


# What dse takes from plugins dse-estimate does not build (it trains nothing, so no
# dataset, quantizer or coding runs): the flags that state those facts of the workload.
_AS_FLAGS = {
    "dataset": "--input-size, --channels and --num-classes",
    "quantizer": "--weight-format",
    "quantizer.bits": "--weight-bits",
    "coding": "--coding",
    "coding.time_window": "--time-window",
    "coding.accumulator_bits": "--accumulator-bits",
}


def parse_overrides(overrides: Sequence[str]) -> Selection:
    """``group=option`` and ``key=value`` overrides as ``dse`` reads them, for the two
    plugins dse-estimate builds: ``model=vgg16``, ``hardware=ann_accelerator`` (or several
    joined by commas, the first the reference, or ``all``), ``model.<key>=...``,
    ``hardware.<key>=...``, ``hardware/technology=45nm`` (``+``/``~`` as in Hydra).
    Anything else is refused in one line naming what to write instead."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import OverrideType
    from hydra.errors import OverrideParseException

    parser = OverridesParser.create()
    chosen: dict[str, str] = {}
    keys: dict[str, list[str]] = {"model": [], "hardware": []}
    for line in overrides:
        try:
            (override,) = parser.parse_overrides([line])
        except OverrideParseException as err:
            reason = str(err).strip().splitlines()[0]
            raise ConfigError(
                f"{line!r} is not an override: write group=option or key=value ({reason})"
            ) from None
        key = override.key_or_group
        group = re.split(r"[./]", key, maxsplit=1)[0]
        if group not in keys:
            hint = _AS_FLAGS.get(key) or _AS_FLAGS.get(group)
            if hint and " " not in hint:  # one flag: with the value given
                hint = f"{hint} {line.partition('=')[2]}"
            instead = f"; give it as {hint}" if hint else ""
            raise ConfigError(
                f"{line}: dse-estimate trains nothing and builds only the model and the "
                f"hardware (model=, model.<key>=, hardware=, hardware.<key>=){instead}"
            )
        if key == group:  # a choice: model=vgg16, hardware=a,b
            value = line.partition("=")[2]
            require(
                override.type == OverrideType.CHANGE and bool(value),
                key,
                f"must name a plugin: {key}=<name> (dse --list-plugins)",
                line,
            )
            require(key not in chosen, key, f"is chosen twice ({key}={chosen.get(key)})", value)
            require(
                key == "hardware" or not override.is_sweep_override(),
                key,
                "must name one model",
                value,
            )
            chosen[key] = value
        else:
            require(
                not override.is_sweep_override(),
                key,
                "takes one value here: dse-estimate prices one configuration (a sweep: dse -m)",
                line.partition("=")[2],
            )
            keys[group].append(line)
    return Selection(
        model=chosen.get("model", Selection.model),
        hardware=chosen.get("hardware", Selection.hardware),
        model_overrides=tuple(keys["model"]),
        hardware_overrides=tuple(keys["hardware"]),
    )


def _aliases(args: argparse.Namespace) -> list[str]:
    """The earlier flags (--model, --hardware, --set) as the overrides they stand for."""
    out = [f"{flag}={value}" for flag in ("model", "hardware") if (value := getattr(args, flag))]
    return out + [_from_set(item) for item in args.overrides_set]


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


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line, as every other refusal of dse-estimate (not usage, then the error)."""
        self.exit(2, f"{self.prog}: error: {message} (see dse-estimate --help)\n")


_USAGE = "dse-estimate [group=option ...] [key=value ...] [options]"
_EXAMPLES = """\
examples (the same group=option key=value grammar as dse):
  dse-estimate model=vgg16 hardware=ann_accelerator hardware.num_pes=64
  dse-estimate model=vgg16 hardware=ttfs_processor,ann_accelerator hardware/technology=45nm
  dse-estimate model=small_cnn model.channels=[8,16] --input-size 8 --channels 1 hardware=all
  dse-estimate --config-dir my_conf model=my_net hardware=my_chip,ttfs_processor
  dse-estimate --workload outputs/runs/<run>/artifacts/workload.json hardware=all

Groups and keys of the model and the hardware only: dse-estimate trains nothing, so no
dataset, quantizer or coding plugin runs; the workload's input shape, weight storage,
coding and activity are the options above. The earlier flags still work: --model X is
model=X, --hardware X is hardware=X, --set num_pes=64 is hardware.num_pes=64, --set
technology=45nm is hardware/technology=45nm, --set model.K=V is model.K=V."""


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="dse-estimate",
        usage=_USAGE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Estimate energy, latency and area of one inference of a model on hardware models\n"
            "WITHOUT training: the activity is an assumed spike rate (default "
            f"{DEFAULT_SPIKE_RATE}) or read\nfrom a saved workload file. Choose the model, "
            "the hardware and their keys as for dse:\n\n"
            "  dse-estimate model=vgg16 hardware=ann_accelerator hardware.num_pes=64"
        ),
        epilog=_EXAMPLES,
    )
    p.add_argument(
        "overrides",
        nargs="*",
        metavar="group=option | key=value",
        help="model=NAME (default vgg16), hardware=NAME[,NAME...] or hardware=all (default "
        "ttfs_processor; the first is the comparison's reference), model.KEY=VALUE, "
        "hardware.KEY=VALUE, hardware/technology=NODE: as on the dse command line "
        "(dse --list-plugins names the options)",
    )
    p.add_argument(
        "--config-dir",
        dest="config_dirs",
        action="append",
        type=Path,
        default=[],
        metavar="DIR",
        help="a folder of your plugin configs (<group>/<name>.yaml), as for dse; repeatable. "
        "It adds YAML only: the classes they name must be importable (PYTHONPATH or installed)",
    )
    p.add_argument("--input-size", type=int, default=32, help="input height = width (pixels)")
    p.add_argument("--channels", type=int, default=3, help="input channels")
    p.add_argument("--num-classes", type=int, default=10)
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
        help="Workload JSON (Workload.save); replaces the model",
    )
    p.add_argument("--json", action="store_true", help="print machine-readable JSON only")
    old = p.add_argument_group("earlier flags, kept as aliases")
    old.add_argument("--model", default=None, metavar="NAME", help="= model=NAME")
    old.add_argument("--hardware", default=None, metavar="NAMES", help="= hardware=NAMES")
    old.add_argument(
        "--set",
        dest="overrides_set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="= hardware.KEY=VALUE (technology=NODE: hardware/technology=NODE; "
        "model.KEY=VALUE as it is); repeatable",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_intermixed_args(argv)
    try:
        # The command line is read whole before anything is composed or built.
        chosen = parse_overrides([*_aliases(args), *args.overrides])
        register_entry_point_plugins()
        # Every hardware config is checked before the model is built.
        names = hardware_names(chosen.hardware, args.config_dirs)
        models = {
            name: compose_plugin(
                "hardware", name, list(chosen.hardware_overrides), args.config_dirs
            )
            for name in names
        }
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
                chosen.model,
                args.input_size,
                args.channels,
                args.num_classes,
                args.weight_bits,
                args.weight_format,
                args.coding,
                args.time_window,
                args.accumulator_bits,
                list(chosen.model_overrides),
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
