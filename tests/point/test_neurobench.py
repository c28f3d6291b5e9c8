"""NeuroBench's metrics (dse.point.neurobench) on a hand-sized network, by hand."""

from __future__ import annotations

import pytest
import torch

from dse.api.architecture import Linear
from dse.api.network import LayerParams
from dse.api.workload import LayerWorkload, Workload
from dse.point.neurobench import metrics, static_metrics, workload_metrics, zero_weights

# 4 inputs -> 3 spiking neurons -> 2 read-out neurons; T = 4; 5-bit weights, 16-bit sums.
HIDDEN = LayerWorkload(
    "fc1", "linear", (4,), (3,), fan_in=4, fan_out=3.0, num_weights=12, weight_bits=5,
    weight_format="log", neurons=3, input_spikes=3.0, output_spikes=1.0, synops=9.0,
)  # fmt: skip
READOUT = LayerWorkload(
    "fc2", "linear", (3,), (2,), fan_in=3, fan_out=2.0, num_weights=6, weight_bits=5,
    weight_format="log", neurons=2, fires=False, input_spikes=1.0, synops=2.0,
)  # fmt: skip
WORKLOAD = Workload((HIDDEN, READOUT), "ttfs_log", time_window=4, accumulator_bits=16)
# each input's fan-out in fc1 holds exactly one zero weight (3 of 12); fc2: 2 of 6
W1 = torch.tensor([[0.0, 1, 1, 0.5], [0.5, 0, 1, 1], [1, 0.25, 0, 0]])
W2 = torch.tensor([[0.0, 1, 1], [1, 0, 1]])


def test_static_metrics_by_hand() -> None:
    zeros = zero_weights([LayerParams(Linear(3), W1, torch.zeros(3)),
                          LayerParams(Linear(2), W2, torch.zeros(2))])  # fmt: skip
    assert zeros == [4, 2]
    got = static_metrics(WORKLOAD, zeros)
    assert got["footprint"] == 4 * (12 + 6 + 3 + 2)  # float32 weights and biases: 92 bytes
    assert got["footprint_stored"] == (18 * 5 + 5 * 16) / 8  # 5-bit weights, 16-bit biases
    assert got["connection_sparsity"] == pytest.approx(6 / 18)


def test_workload_metrics_by_hand() -> None:
    got = workload_metrics(WORKLOAD, [4, 2], analog_input=False)
    assert got["activation_sparsity"] == pytest.approx(1 - 1 / (3 * 4))  # read-out not counted
    assert got["synaptic_operations.Effective_ACs"] == pytest.approx(9 * 8 / 12 + 2 * 4 / 6)
    assert got["synaptic_operations.Effective_MACs"] == 0
    assert got["synaptic_operations.Dense"] == (3 * 4 + 2 * 3) * 4
    analog = workload_metrics(WORKLOAD, [4, 2], analog_input=True)  # pixels into fc1: MACs
    assert analog["synaptic_operations.Effective_MACs"] == pytest.approx(9 * 8 / 12)
    assert analog["synaptic_operations.Effective_ACs"] == pytest.approx(2 * 4 / 6)
    both = metrics({"val": WORKLOAD, "test": WORKLOAD}, [4, 2], False)
    assert both["test_activation_sparsity"] == both["val_activation_sparsity"]
    assert "footprint" in both and "val_footprint" not in both


def test_effective_ops_match_neurobenchs_binarised_pass_where_zeros_spread_evenly() -> None:
    # NeuroBench's procedure: binarise the input and the weights, run the layer, sum.
    w = torch.tensor([[0.0, 2, 1, 1], [1, 0, 0.5, 1], [1, 1, 0, 0.0]])  # one zero per column
    x = torch.tensor([1.0, 0, 1, 1])  # three input spikes
    neurobench = float(((w != 0).float() @ (x != 0).float()).sum())
    layer = LayerWorkload(
        "fc", "linear", (4,), (3,), fan_in=4, fan_out=3.0, num_weights=12, weight_bits=5,
        neurons=3, fires=False, input_spikes=3.0, synops=3 * 3.0,
    )  # fmt: skip
    ours = workload_metrics(Workload((layer,), "ttfs_log", 1, 16), [4], False)
    assert ours["synaptic_operations.Effective_ACs"] == neurobench == 6
    dense = float((torch.ones_like(w) @ torch.ones_like(x)).sum())
    assert ours["synaptic_operations.Dense"] == dense == 12
