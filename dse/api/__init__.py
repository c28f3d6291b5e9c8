"""What a plugin author imports: the plugin bases, the data they exchange, the errors.

This folder imports nothing else of ``dse`` (tests/test_module_boundaries.py), so a plugin
written against it depends on the contract only, never on the orchestrator.

* ``interfaces``: one abstract base per plugin kind and the data they exchange;
* ``architecture``: framework-free network description, shape inference, static workload;
* ``workload``: the contract between simulator and hardware model;
* ``network``: the trained network a coding converts (public coding API);
* ``coding``: :class:`FixedPointCoding`, the base both built-in codings derive from;
* ``data``: batching, augmentation and split helpers;
* ``errors``: the errors reported to users as one line.

The names below import lazily (``from dse.api import HardwareModel``): importing one of
them loads its module only, so a plugin that needs no torch does not load it.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "interfaces": (
        "Split DataSplits Dataset ModelBuilder WeightQuantizer TrainedNetwork LayerActivity "
        "AccumulatorActivity SimulationResult Accumulator SpikeCoding TrainingMethod "
        "EnergyBreakdown LayerCost HardwareReport HardwareModel PLUGIN_KINDS PLUGIN_GROUPS"
    ),
    "errors": "DseError ConfigError PluginError DatasetError TrackingError TrainingError require",
    "workload": "LayerKind PoolOp WeightFormat LayerWorkload Workload",
    "architecture": "Architecture Conv2d Linear MaxPool2d AvgPool2d Flatten LayerSpec static_workload",
    "coding": "FixedPointCoding",
    "network": "Network SpikingNetwork SimulatedBatch ActivityMeter",
    "data": "batches to_float stratified_split subset random_crop_flip",
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names.split()}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'dse.api' has no attribute {name!r}")
    return getattr(importlib.import_module(f"dse.api.{module}"), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
