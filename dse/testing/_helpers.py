"""What the contract suites build their checks from: built-in plugins by config name, a
small cached dataset, a hand-checkable workload, and a guard against network access."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from dse.api.architecture import Architecture, Conv2d, Flatten, Linear, MaxPool2d, static_workload
from dse.api.workload import Workload

if TYPE_CHECKING:
    from dse.api.interfaces import DataSplits


def builtin_plugin(group: str, name: str, **overrides: Any) -> Any:
    """The built-in plugin ``<group>=<name>`` (``conf/<group>/<name>.yaml``, composed by
    Hydra as ``dse`` composes it), with keys replaced by ``overrides``, validated and
    constructed as ``dse`` does.

    The suites use it for the plugins around the one under test (a coding is checked on a
    network trained by ``builtin_plugin("training", "cat", epochs=1)``), so they reach the
    built-ins through their configs, never by importing them.
    """
    from dse.registry.discovery import compose_plugin

    return compose_plugin(
        group, name, [f"{group}.{key}={value}" for key, value in overrides.items()]
    )


@functools.cache
def digits() -> DataSplits:
    """scikit-learn's bundled digits (8x8, 10 classes), loaded once per process."""
    return builtin_plugin("dataset", "digits").load()


def head(data: DataSplits, samples: int) -> DataSplits:
    """``data`` with its validation and test splits cut to the first ``samples`` images
    (the training split stays whole: training needs it)."""
    from dse.api.interfaces import Split

    def cut(split: Split) -> Split:
        return Split(split.x[:samples], split.y[:samples])

    return dataclasses.replace(data, val=cut(data.val), test=cut(data.test))


class NetworkAccess(AssertionError):
    """Raised when a plugin opens a network connection inside :func:`no_network`."""


@contextlib.contextmanager
def no_network(what: str) -> Iterator[None]:
    """Fail any socket connection or DNS lookup made inside the block, naming ``what``."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        # getaddrinfo(host, port, ...) or socket.connect(self, address)
        target = args[0] if args and isinstance(args[0], str) else args[1:2]
        raise NetworkAccess(
            f"{what} opened a network connection (to {target}): a plugin must "
            "never download; read local files and name the expected layout in a DatasetError"
        )

    saved = (socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo)
    socket.socket.connect = refuse  # type: ignore[method-assign]
    socket.socket.connect_ex = refuse  # type: ignore[method-assign]
    socket.getaddrinfo = refuse  # type: ignore[assignment]
    try:
        yield
    finally:
        socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = saved  # type: ignore[method-assign]


def example_workload(
    spike_rate: float = 0.2, time_window: int = 8, weight_bits: int = 5
) -> Workload:
    """A small conv net's workload with a uniform assumed spike rate (hand-checkable)."""
    arch = Architecture(
        name="contract_net",
        input_shape=(1, 8, 8),
        num_classes=10,
        layers=(Conv2d(8), MaxPool2d(), Conv2d(16), Flatten(), Linear(10)),
    )
    static = static_workload(
        arch,
        weight_bits=weight_bits,
        weight_format="log",
        coding="ttfs_log",
        time_window=time_window,
        accumulator_bits=16,
    )
    layers, inputs = [], spike_rate * 64
    for layer in static.layers:
        outputs = spike_rate * layer.neurons if layer.fires else 0.0
        layers.append(
            dataclasses.replace(
                layer,
                input_spikes=inputs,
                output_spikes=outputs,
                synops=inputs * layer.fan_out,
                time_steps=float(time_window),
            )
        )
        inputs = outputs
    return dataclasses.replace(static, layers=tuple(layers), source=f"assumed rate {spike_rate}")
