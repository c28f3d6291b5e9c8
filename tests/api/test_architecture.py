"""Shape inference and the workload's static facts, checked by hand."""

from __future__ import annotations

import pytest

from dse.api.architecture import (
    Architecture,
    Conv2d,
    Flatten,
    Linear,
    MaxPool2d,
    static_workload,
)
from dse.api.errors import ConfigError
from dse.api.workload import Workload

ARCH = Architecture(
    name="tiny",
    input_shape=(1, 8, 8),
    num_classes=10,
    layers=(Conv2d(4, kernel=3, padding=1), MaxPool2d(2, 2), Flatten(), Linear(10)),
)


def test_shapes_follow_the_layers():
    assert [out for _, out in ARCH.shapes()] == [(4, 8, 8), (4, 4, 4), (64,), (10,)]
    assert ARCH.layer_names() == ["conv1", "pool1", "linear1"]


def test_static_workload_counts_weights_and_connections():
    wl = static_workload(
        ARCH,
        weight_bits=5,
        weight_format="log",
        coding="ttfs_log",
        time_window=8,
        accumulator_bits=16,
    )
    conv, pool, fc = wl.layers
    assert (conv.fan_in, conv.num_weights, conv.neurons) == (9, 36, 256)
    assert conv.fan_out == pytest.approx(256 * 9 / 64)  # each input feeds 4 channels x 3x3
    assert (pool.fan_in, pool.num_weights, pool.weight_bits) == (4, 0, 0)
    assert (fc.fan_in, fc.num_weights, fc.fan_out) == (64, 640, 10)
    assert [layer.fires for layer in wl.layers] == [True, True, False]
    assert wl.total_weights == 676 and wl.network == "tiny@8x8"


def test_workload_round_trips_through_json(tmp_path):
    wl = static_workload(
        ARCH,
        weight_bits=4,
        weight_format="uniform",
        coding="rate",
        time_window=4,
        accumulator_bits=12,
    )
    wl.save(tmp_path / "w.json")
    assert Workload.load(tmp_path / "w.json") == wl


def test_bad_architectures_are_refused_with_the_reason():
    with pytest.raises(ConfigError, match="must end with Linear"):
        Architecture("bad", (1, 8, 8), 10, (Conv2d(4), Flatten(), Linear(5)))
    with pytest.raises(ConfigError, match="does not fit"):
        Architecture("bad", (1, 2, 2), 10, (Conv2d(4, kernel=5, padding=0), Flatten(), Linear(10)))
    with pytest.raises(ConfigError, match="Flatten"):
        Architecture("bad", (1, 8, 8), 10, (Conv2d(4), Linear(10)))
