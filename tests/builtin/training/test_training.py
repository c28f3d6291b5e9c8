"""Training methods: determinism, divergence errors, CAT's module, config validation."""

from __future__ import annotations

import pytest
import torch

from dse.api.errors import ConfigError, TrainingError
from dse.api.interfaces import DataSplits
from dse.api.network import WeightedLayer
from dse.builtin.codings import RateCoding, TTFSLogCoding
from dse.builtin.datasets.digits import Digits
from dse.builtin.models.small_cnn import SmallCNN
from dse.builtin.quantizers import LogQuantizer
from dse.builtin.training import ConversionAwareTraining, StandardTraining


@pytest.fixture(scope="module")
def digits() -> DataSplits:
    return Digits().load()


def _weights(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


@pytest.mark.parametrize("method", [StandardTraining, ConversionAwareTraining])
def test_same_seed_gives_identical_weights(method, digits) -> None:  # noqa: ANN001
    arch = SmallCNN(channels=(8, 8)).build(digits.input_shape, digits.num_classes)
    coding, quantizer = TTFSLogCoding(), LogQuantizer(5)
    rng = torch.get_rng_state()
    a = method(epochs=2).fit(arch, digits, quantizer, coding, seed=3)
    b = method(epochs=2).fit(arch, digits, quantizer, coding, seed=3)
    c = method(epochs=2).fit(arch, digits, quantizer, coding, seed=4)
    assert torch.equal(torch.get_rng_state(), rng)  # the global RNG is left alone
    wa, wb, wc = _weights(a.module), _weights(b.module), _weights(c.module)
    assert all(torch.equal(x, y) for x, y in zip(wa, wb, strict=True))
    assert not all(torch.equal(x, y) for x, y in zip(wa, wc, strict=True))
    assert a.info["epochs"] == 2


@pytest.mark.parametrize("method", [StandardTraining, ConversionAwareTraining])
def test_diverging_loss_raises_training_error(method, digits) -> None:  # noqa: ANN001
    arch = SmallCNN(channels=(8, 8)).build(digits.input_shape, digits.num_classes)
    with pytest.raises(TrainingError, match="lower training.lr"):
        method(epochs=3, lr=1e6, optimizer="sgd").fit(
            arch, digits, LogQuantizer(5), TTFSLogCoding(), seed=0
        )


def test_cat_module_uses_quantized_weights_and_the_coding_activation(digits) -> None:  # noqa: ANN001
    arch = SmallCNN(channels=(8, 8)).build(digits.input_shape, digits.num_classes)
    quantizer, coding = LogQuantizer(4), RateCoding(time_window=4)
    ann = ConversionAwareTraining(epochs=1).fit(arch, digits, quantizer, coding, seed=0)
    assert ann.conversion_aware and ConversionAwareTraining.depends_on == ("quantizer", "coding")
    x = digits.test.x[:16]
    with torch.no_grad():
        trace = ann.module.trace(x)
    for i, layer in enumerate(ann.module.layers):
        if isinstance(layer, WeightedLayer) and ann.module.fires[i]:
            # QCFS activation at T = 4: only multiples of 1/4 in [0, 1]
            values = trace[i] * 4
            assert torch.equal(values, torch.round(values)) and values.max() <= 4
    # eval forward = the same network with every weight on the quantizer's levels
    layer = ann.module.layers[0]
    w = layer.folded()[0]
    expected = torch.nn.functional.conv2d(
        torch.round(x.double() * 256) / 256, quantizer.quantize(w), layer.bias, 1, 1
    )
    assert torch.equal(layer(torch.round(x.double() * 256) / 256), expected)


def test_zero_epochs_returns_an_untrained_network(digits) -> None:  # noqa: ANN001
    arch = SmallCNN(channels=(8,), pool_after=(1,)).build(digits.input_shape, digits.num_classes)
    ann = StandardTraining(epochs=0).fit(arch, digits, LogQuantizer(5), TTFSLogCoding(), seed=0)
    assert not ann.conversion_aware and StandardTraining.depends_on == ()
    assert ann.module(digits.test.x[:4]).shape == (4, 10)


def test_cat_fine_tunes_from_standard_training(digits) -> None:  # noqa: ANN001
    arch = SmallCNN(channels=(8, 8)).build(digits.input_shape, digits.num_classes)
    method = ConversionAwareTraining(epochs=0, init="standard", pretrain={"epochs": 2})
    ann = method.fit(arch, digits, LogQuantizer(5), TTFSLogCoding(), seed=0)
    assert ann.info["pretrain_epochs"] == 2
    with torch.no_grad():
        acc = (ann.module(digits.test.x).argmax(1) == digits.test.y).float().mean()
    assert acc > 0.3  # pretrained weights were loaded (chance is 0.1)


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("training.epochs", {"epochs": -1}),
        ("training.lr", {"lr": 0.0}),
        ("training.optimizer", {"optimizer": "rmsprop"}),
        ("training.lr_schedule", {"lr_schedule": "step"}),
        ("training.batch_size", {"batch_size": 0}),
        ("training.init", {"init": "imagenet"}),
    ],
)
def test_invalid_config_names_the_field(field: str, kwargs: dict) -> None:
    with pytest.raises(ConfigError, match=field):
        ConversionAwareTraining(**kwargs)


def test_training_device_is_checked_and_auto_matches_cpu():
    """training.device: a GPU request without a GPU fails at validation, naming the key;
    ``auto`` trains on the CPU here and gives the same weights as ``cpu``."""
    if torch.cuda.is_available():
        StandardTraining(device="cuda")
    else:
        with pytest.raises(ConfigError, match=r"training\.device"):
            StandardTraining(device="cuda")
    with pytest.raises(ConfigError, match=r"training\.device"):
        StandardTraining(device="tpu")
    if not torch.cuda.is_available():
        data = Digits().load()
        arch = SmallCNN().build(data.input_shape, data.num_classes)
        weights = [
            StandardTraining(epochs=1, device=d)
            .fit(arch, data, LogQuantizer(), TTFSLogCoding(), seed=0)
            .module.state_dict()
            for d in ("auto", "cpu")
        ]
        assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


@pytest.mark.parametrize("batch_norm", [False, True])
def test_rescaling_moves_each_layers_percentile_onto_the_threshold(batch_norm, digits) -> None:  # noqa: ANN001
    """The rescaled ReLU network computes the same classes, with every firing layer's
    chosen percentile at the threshold (what CAT's init=standard starts from)."""
    from dse.api.network import firing_scales, rescale_activations

    arch = SmallCNN(hidden=16, batch_norm=batch_norm).build(digits.input_shape, 10)
    ann = StandardTraining(epochs=2).fit(arch, digits, LogQuantizer(5), TTFSLogCoding(), seed=0)
    x = digits.test.x
    with torch.no_grad():
        before = ann.module(x)
    scales = firing_scales(ann.module, digits.train, percentile=99.0, samples=512)
    assert len(scales) == 5 and scales[-1] == 1.0 and all(s > 0 for s in scales)
    assert max(scales[:-1]) > 1.5  # ReLU activations overshoot the threshold 0.5 below
    rescale_activations(ann.module, scales, threshold=0.5)
    with torch.no_grad():
        after = ann.module(x)
    assert torch.allclose(before, after, rtol=1e-4, atol=1e-4)  # the read-out is unchanged
    moved = firing_scales(ann.module, digits.train, percentile=99.0, samples=512)
    assert moved[:-1] == pytest.approx([0.5] * 4, rel=1e-4)


def test_cat_from_standard_starts_at_the_threshold(digits) -> None:  # noqa: ANN001
    arch = SmallCNN().build(digits.input_shape, 10)
    coding, quantizer = TTFSLogCoding(threshold=1.0), LogQuantizer(5)
    pre = StandardTraining(epochs=2).fit(arch, digits, quantizer, coding, seed=0)
    cat = ConversionAwareTraining(epochs=1, init="standard", init_percentile=99.0)
    ann = cat.fit(arch, digits, quantizer, coding, seed=0, init=pre)
    scales = [float(s) for s in ann.info["init_scales"].split()]
    assert len(scales) == 4 and scales[-1] == 1.0 and max(scales) > 1.0
    with pytest.raises(ConfigError, match="training.init_percentile"):
        ConversionAwareTraining(init_percentile=0)


def test_cat_stopped_and_resumed_is_the_uninterrupted_network(digits) -> None:  # noqa: ANN001
    """Multi-fidelity's promise: a point trained 1 of 3 epochs, then resumed, is bit for bit
    the network 3 uninterrupted epochs give (weights, batch-norm state and all)."""
    arch = SmallCNN(channels=(8, 8)).build(digits.input_shape, digits.num_classes)
    coding, quantizer = TTFSLogCoding(time_window=4), LogQuantizer(4)
    straight = ConversionAwareTraining(epochs=3).fit(arch, digits, quantizer, coding, seed=1)
    low = ConversionAwareTraining(epochs=3, stop_epoch=1).fit(
        arch, digits, quantizer, coding, seed=1
    )
    assert straight.resume_state is None and low.resume_state is not None
    assert low.info["epochs"] == 1 and low.resume_state["epoch"] == 1
    full = ConversionAwareTraining(epochs=3).fit(
        arch, digits, quantizer, coding, seed=1, resume=low
    )
    assert full.info["epochs"] == 3 and full.resume_state is None
    a, b = straight.module.state_dict(), full.module.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # one epoch of the same schedule is not the whole of it
    c = low.module.state_dict()
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_cat_stop_epoch_outside_the_schedule_is_one_config_error() -> None:
    with pytest.raises(ConfigError, match=r"training.stop_epoch.*\[1, training.epochs=3\]"):
        ConversionAwareTraining(epochs=3, stop_epoch=4)
    assert ConversionAwareTraining(epochs=3, stop_epoch=3).stop_epoch is None  # the whole one
