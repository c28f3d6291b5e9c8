"""Model builders: layer specs, shapes and weight counts, checked by hand."""

from __future__ import annotations

import inspect
from pathlib import Path

import hydra.utils
import pytest
import torch
from omegaconf import OmegaConf

from dse.api.architecture import Architecture, Conv2d, Flatten, Linear, MaxPool2d, static_workload
from dse.api.data import batches
from dse.api.errors import ConfigError
from dse.api.interfaces import ModelBuilder
from dse.builtin.datasets.digits import Digits
from dse.builtin.datasets.synthetic import Synthetic
from dse.builtin.models.small_cnn import SmallCNN
from dse.builtin.models.vgg16 import VGG16

CONF = Path(__file__).resolve().parents[3] / "conf"


def _weights(arch: Architecture) -> int:
    return static_workload(
        arch, weight_bits=5, weight_format="log", coding="t", time_window=8, accumulator_bits=16
    ).total_weights


# --------------------------------------------------------------------------- small_cnn


def test_small_cnn_default_shapes_for_digits() -> None:
    arch = SmallCNN().build((1, 8, 8), 10)
    assert [type(layer) for layer in arch.layers] == [
        Conv2d, Conv2d, MaxPool2d, Conv2d, Flatten, Linear,
    ]  # fmt: skip
    assert [out for _, out in arch.shapes()] == [
        (16, 8, 8), (32, 8, 8), (32, 4, 4), (32, 4, 4), (512,), (10,),
    ]  # fmt: skip
    # 1*16*9 + 16*32*9 + 32*32*9 + 512*10
    assert _weights(arch) == 144 + 4608 + 9216 + 5120


def test_small_cnn_hidden_pools_and_batch_norm() -> None:
    arch = SmallCNN(channels=[8, 8], hidden=20, pool_after=[1, 2], batch_norm=True).build(
        (3, 12, 12), 4
    )
    assert [out for _, out in arch.shapes()] == [
        (8, 12, 12), (8, 6, 6), (8, 6, 6), (8, 3, 3), (72,), (20,), (4,),
    ]  # fmt: skip
    assert all(layer.batch_norm for layer in arch.layers if isinstance(layer, Conv2d))


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"channels": []}, "model.channels"),
        ({"channels": [8, 0]}, "model.channels"),
        ({"hidden": -1}, "model.hidden"),
        ({"pool_after": [4]}, "model.pool_after"),
    ],
)
def test_small_cnn_config_validation(kwargs: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        SmallCNN(**kwargs)


def test_small_cnn_refuses_too_small_input() -> None:
    with pytest.raises(ConfigError, match="at least 4x4"):
        SmallCNN(pool_after=[1, 2]).build((1, 3, 3), 10)


def _torch_module(arch: Architecture) -> torch.nn.Sequential:
    """A plain float ReLU network for the specs (the training plugin builds its own)."""
    mods: list[torch.nn.Module] = []
    shapes = arch.shapes()
    for i, layer in enumerate(arch.layers):
        (in_shape, _), last = shapes[i], i == len(arch.layers) - 1
        if isinstance(layer, Conv2d):
            mods.append(
                torch.nn.Conv2d(in_shape[0], layer.out_channels, layer.kernel, layer.stride,
                                layer.padding)
            )  # fmt: skip
        elif isinstance(layer, Linear):
            mods.append(torch.nn.Linear(in_shape[0], layer.out_features))
        elif isinstance(layer, MaxPool2d):
            mods.append(torch.nn.MaxPool2d(layer.kernel, layer.stride))
        elif isinstance(layer, Flatten):
            mods.append(torch.nn.Flatten())
        if isinstance(layer, (Conv2d, Linear)) and not last:
            mods.append(torch.nn.ReLU())
    return torch.nn.Sequential(*mods)


def _train(data, epochs: int) -> float:  # noqa: ANN001
    torch.manual_seed(0)
    arch = SmallCNN().build(data.input_shape, data.num_classes)
    net = _torch_module(arch)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        for x, y in batches(data.train, 64, shuffle=True, generator=g):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(x), y).backward()
            opt.step()
    with torch.no_grad():
        return float((net(data.test.x).argmax(1) == data.test.y).float().mean())


def test_small_cnn_learns_digits_and_synthetic() -> None:
    # Float training with Adam; ~3 s on 2 cores for the 20 digits epochs.
    assert _train(Digits().load(), epochs=20) > 0.95
    assert _train(Synthetic().load(), epochs=2) > 0.6  # chance is 0.25


# --------------------------------------------------------------------------- vgg16

# Hand count for 32x32, 10 classes, no biases (static_workload counts weights only):
# convs (c_in * c_out * 9): 3*64, 64*64, 64*128, 128*128, 128*256, 256*256 (x2), 256*512,
# 512*512 (x5); classifier: 512*512 + 512*10.
VGG16_32_WEIGHTS = (
    9 * (3 * 64 + 64 * 64 + 64 * 128 + 128 * 128 + 128 * 256 + 2 * 256 * 256 + 256 * 512)
    + 9 * 5 * 512 * 512
    + 512 * 512
    + 512 * 10
)


def test_vgg16_32x32_layers_and_weights() -> None:
    arch = VGG16().build((3, 32, 32), 10)
    convs = [layer for layer in arch.layers if isinstance(layer, Conv2d)]
    pools = [layer for layer in arch.layers if isinstance(layer, MaxPool2d)]
    linears = [layer for layer in arch.layers if isinstance(layer, Linear)]
    assert len(convs) == 13 and len(pools) == 5 and len(linears) == 2
    assert [c.out_channels for c in convs] == [64, 64, 128, 128, 256, 256, 256] + [512] * 6
    assert all(c.kernel == 3 and c.padding == 1 and c.stride == 1 for c in convs)
    assert all(c.batch_norm for c in convs)
    pool_outputs = [out for layer, (_, out) in zip(arch.layers, arch.shapes(), strict=True)
                    if isinstance(layer, MaxPool2d)]  # fmt: skip
    assert pool_outputs == [(64, 16, 16), (128, 8, 8), (256, 4, 4), (512, 2, 2), (512, 1, 1)]
    assert [out for _, out in arch.shapes()[-3:]] == [(512,), (512,), (10,)]
    assert _weights(arch) == VGG16_32_WEIGHTS == 14_977_728


def test_vgg16_64x64_flatten_follows_input() -> None:
    arch = VGG16(classifier_width=256).build((3, 64, 64), 200)
    assert [out for _, out in arch.shapes()[-4:]] == [(512, 2, 2), (2048,), (256,), (200,)]
    conv_weights = VGG16_32_WEIGHTS - 512 * 512 - 512 * 10  # convs do not depend on the input
    assert _weights(arch) == conv_weights + 2048 * 256 + 256 * 200


def test_vgg16_width_multiplier_and_no_batch_norm() -> None:
    arch = VGG16(batch_norm=False, width_multiplier=0.125).build((3, 32, 32), 100)
    convs = [layer for layer in arch.layers if isinstance(layer, Conv2d)]
    assert [c.out_channels for c in convs] == [8, 8, 16, 16, 32, 32, 32] + [64] * 6
    assert not any(c.batch_norm for c in convs)
    assert arch.shapes()[-3][1] == (64,)  # flatten of a 64x1x1 map


def test_vgg16_refuses_inputs_too_small_for_five_poolings() -> None:
    with pytest.raises(ConfigError, match="at least 32x32"):
        VGG16().build((1, 8, 8), 10)
    with pytest.raises(ConfigError, match="at least 32x32"):
        VGG16().build((3, 31, 64), 10)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"classifier_width": 0}, "model.classifier_width"),
        ({"width_multiplier": 0.0}, "model.width_multiplier"),
    ],
)
def test_vgg16_config_validation(kwargs: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        VGG16(**kwargs)


# --------------------------------------------------------------------------- configs


@pytest.mark.parametrize("name, cls", [("small_cnn", SmallCNN), ("vgg16", VGG16)])
def test_model_yaml_matches_constructor(name: str, cls: type) -> None:
    node = OmegaConf.load(CONF / "model" / f"{name}.yaml")
    params = set(inspect.signature(cls.__init__).parameters) - {"self"}
    assert set(node) - {"_target_"} == params
    obj = hydra.utils.instantiate(node)
    assert type(obj) is cls and isinstance(obj, ModelBuilder)
    for key, value in OmegaConf.to_container(node).items():
        if key != "_target_":
            got = getattr(obj, key)
            assert (list(got) if isinstance(got, tuple) else got) == value, key
    # The defaults in the YAML are the constructor's defaults.
    assert obj.__dict__ == cls().__dict__
