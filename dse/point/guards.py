"""Run-time guards: the promises the contract suites (dse.testing) check, spot-checked on
the values a design point really produces, so a broken plugin stops the design point with
one PluginError naming it instead of being recorded as a result."""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any

from dse.api.errors import PluginError
from dse.api.interfaces import HardwareReport, WeightQuantizer

if TYPE_CHECKING:
    import torch


def check_report(report: HardwareReport, hardware: str, split: str | None = None) -> None:
    """Refuse a report whose energy, latency or area (or an energy component) is not a
    finite number >= 0: it would otherwise land in MLflow and on the Pareto front."""
    fields: dict[str, Any] = {
        "energy_uj": report.energy_uj,
        "latency_ms": report.latency_ms,
        "area_mm2": report.area_mm2,
        **{f"breakdown.{k}": v for k, v in dataclasses.asdict(report.breakdown).items()},
    }
    for name, value in fields.items():
        ok = isinstance(value, (int, float)) and math.isfinite(value) and value >= 0
        if not ok:
            raise PluginError(
                f"hardware={hardware} returned {name}={value!r}"
                f"{f' for the {split} split' if split else ''}; energy, "
                "latency and area must be finite and >= 0. Check the model's formulas (a "
                "division by a zero count, a negative term); dse.testing.HardwareModelContract "
                "finds such cases"
            )


def guard_quantizer(quantizer: WeightQuantizer, name: str) -> None:
    """Spot-check ``quantize`` for idempotence on the first weights it sees.

    Wraps the instance's ``quantize`` (its class, and so its cache fingerprint, stay the
    same): the first call also quantizes its own result and raises PluginError when that
    changes a value; later calls go straight to the plugin.
    """
    original = quantizer.quantize
    own = "quantize" in vars(quantizer)  # an instance attribute already: put it back after

    def first_call(weight: torch.Tensor) -> torch.Tensor:
        import torch

        # from now on: the plugin's own method, unchecked
        if own:
            quantizer.quantize = original  # type: ignore[method-assign]
        else:
            vars(quantizer).pop("quantize", None)
        once = original(weight)
        with torch.no_grad():
            twice = original(once.detach())
            changed = (twice != once) & ~(once.isnan() & twice.isnan())
            n = int(changed.sum())
        if n:
            i = int(changed.flatten().nonzero()[0])
            a, b = float(once.flatten()[i]), float(twice.flatten()[i])
            raise PluginError(
                f"quantizer={name} is not idempotent: quantizing its own output changed {n} of "
                f"{once.numel()} weights (e.g. {a:.6g} -> {b:.6g}). quantize() must return "
                "values of its level set unchanged (docs/PLUGINS.md; "
                "dse.testing.WeightQuantizerContract checks it)"
            )
        return once

    quantizer.quantize = first_call  # type: ignore[method-assign]
