"""NeuroBench's metrics (Yik et al., "The neurobench framework for benchmarking
neuromorphic computing algorithms and systems", Nature Communications 2025; definitions
in the neurobench repository, docs/metrics/), computed from a design point's measured
workload and its converted network's weights, named as NeuroBench names them.

NeuroBench itself does not install beside torch 2.13 (it needs torchaudio, which pins an
older torch), so its definitions are followed here, not its code:

* ``footprint`` (static): bytes of the model's parameters and buffers, counted as NeuroBench
  counts a float32 torch model: 4 bytes per weight and bias of the deployed network (batch
  norm folded in, as the chip stores it). Beside it, ``footprint_stored``: the same network
  at its true storage widths, weights at the quantizer's bits, biases at the accumulator's
  width (they are added to the potential in its fixed point).
* ``connection_sparsity`` (static): zero weights / all weights of the conv and linear
  layers (biases not counted), on the converted network's quantized weights.
* ``activation_sparsity`` (workload): 1 - spikes / (neurons x time steps), summed over the
  layers whose neurons fire (the read-out only integrates: NeuroBench hooks activation
  modules only) and over the coding's T steps.
* ``synaptic_operations.Effective_ACs`` / ``.Effective_MACs`` / ``.Dense`` (workload):
  effective operations skip zero inputs and zero weights; an operation on a binary input
  (a spike) is an accumulate, on a multi-bit input a multiply-accumulate; Dense counts
  every input and every weight at every time step.

Where snn-dse differs: NeuroBench binarises each layer's input and weights and runs the
layer again, so it counts exactly the non-zero weights each input reaches; snn-dse counts
each input spike's fan-out (``synops``, padded positions included) times the layer's
fraction of non-zero weights, exact when zero weights spread evenly over the fan-outs.
Dense uses each layer's neurons x fan-in (padding included) x T. A first layer fed
analog pixels (the coding's ``input_encoding = analog``) counts its operations as MACs;
every other weighted layer receives spikes (ACs).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from dse.api.workload import Workload

FLOAT_BYTES = 4  # a float32 parameter, as NeuroBench's Footprint counts a torch model
SYNOPS = "synaptic_operations"
STATIC = ("footprint", "footprint_stored", "connection_sparsity")
WORKLOAD = (
    "activation_sparsity",
    f"{SYNOPS}.Effective_MACs",
    f"{SYNOPS}.Effective_ACs",
    f"{SYNOPS}.Dense",
)


def zero_weights(layers: Sequence[Any]) -> list[int] | None:
    """Zero weights per weighted layer of a converted network (``SpikingNetwork.layers``:
    ``LayerParams`` with a ``weight`` tensor for conv / linear), in order; None when the
    network does not expose its weights so."""
    out = []
    for p in layers:
        weight = getattr(p, "weight", None)
        if weight is not None:
            out.append(int((weight == 0).sum()))
    return out or None


def static_metrics(workload: Workload, zeros: Sequence[int] | None) -> dict[str, float]:
    """``footprint``, ``footprint_stored`` (bytes) and ``connection_sparsity`` (the last
    only when the zero weights are known)."""
    weighted = [layer for layer in workload.layers if layer.kind in ("conv", "linear")]
    weights = sum(layer.num_weights for layer in weighted)
    biases = sum(layer.output_shape[0] for layer in weighted)
    stored_bits = sum(layer.num_weights * layer.weight_bits for layer in weighted)
    stored_bits += biases * workload.accumulator_bits
    out = {
        "footprint": float(FLOAT_BYTES * (weights + biases)),
        "footprint_stored": stored_bits / 8.0,
    }
    if zeros is not None and len(zeros) == len(weighted) and weights:
        out["connection_sparsity"] = sum(zeros) / weights
    return out


def workload_metrics(
    workload: Workload, zeros: Sequence[int] | None, analog_input: bool
) -> dict[str, float]:
    """``activation_sparsity`` and the three ``synaptic_operations`` counts per inference."""
    steps = max(int(workload.time_window), 1)
    firing = [layer for layer in workload.layers if layer.fires and layer.kind != "pool"]
    slots = sum(layer.neurons * steps for layer in firing)
    spikes = sum(layer.output_spikes for layer in firing)
    out = {"activation_sparsity": 1.0 - spikes / slots if slots else math.nan}
    weighted = [layer for layer in workload.layers if layer.kind in ("conv", "linear")]
    if zeros is None or len(zeros) != len(weighted):
        zeros = [0] * len(weighted)  # unknown: every weight counted as non-zero
    macs = acs = dense = 0.0
    for i, (layer, z) in enumerate(zip(weighted, zeros, strict=True)):
        # synops x the fraction of non-zero weights (multiplied first: fewer roundings)
        effective = (
            layer.synops * (layer.num_weights - z) / layer.num_weights if layer.num_weights else 0.0
        )
        if i == 0 and analog_input:
            macs += effective
        else:
            acs += effective
        dense += layer.connections * steps
    out[f"{SYNOPS}.Effective_MACs"] = macs
    out[f"{SYNOPS}.Effective_ACs"] = acs
    out[f"{SYNOPS}.Dense"] = dense
    return out


def analog_input(coding: Any) -> bool:
    """Whether the coding feeds its first layer multi-bit pixels (``input_encoding`` of the
    built-in codings); a coding without that setting is taken to send spikes."""
    return str(getattr(coding, "input_encoding", "spikes")) == "analog"


def metrics(
    workloads: Mapping[str, Workload], zeros: Sequence[int] | None, analog: bool
) -> dict[str, float]:
    """Static metrics once, workload metrics per split (``val_`` / ``test_`` prefixed)."""
    first = next(iter(workloads.values()))
    out = static_metrics(first, zeros)
    for split, workload in workloads.items():
        for k, v in workload_metrics(workload, zeros, analog).items():
            out[f"{split}_{k}"] = v
    return out


__all__ = [
    "FLOAT_BYTES",
    "STATIC",
    "WORKLOAD",
    "analog_input",
    "metrics",
    "static_metrics",
    "workload_metrics",
    "zero_weights",
]
