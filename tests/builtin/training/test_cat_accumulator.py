"""CAT models the ttfs_log accumulator: the ANN equals the SNN at any accumulator width.

The SNN truncates every synaptic product to the accumulator's LSB and saturates the
potential after each input time step (plugins/codings/ttfs_log.py). CAT's weighted layers
call ``coding.accumulator(first)`` so the trained ANN computes the same potentials:
checked here spike time by spike time and potential by potential on random networks
(every branch of the model) and prediction by prediction after CAT on digits.
"""

from __future__ import annotations

import pytest
import torch

from dse.api.architecture import Architecture, Conv2d, Flatten, Linear, MaxPool2d
from dse.api.interfaces import DataSplits, Split, TrainedNetwork, WeightQuantizer
from dse.api.network import Network, WeightedLayer
from dse.builtin.codings import RateCoding, TTFSLogCoding
from dse.builtin.codings import ttfs_log as ttfs_log_module
from dse.builtin.datasets.digits import Digits
from dse.builtin.models.small_cnn import SmallCNN
from dse.builtin.quantizers import LogQuantizer, UniformQuantizer
from dse.builtin.training import ConversionAwareTraining
from dse.testing import SpikeCodingContract

ARCH = Architecture(
    "tiny",
    (2, 6, 6),
    3,
    (
        Conv2d(4, kernel=3, stride=1, padding=1),
        MaxPool2d(2, 2),
        Conv2d(5, kernel=3, stride=1, padding=1),
        Flatten(),
        Linear(8),
        Linear(3),
    ),
)
NO_CALIBRATION = Split(torch.zeros(1, 2, 6, 6), torch.zeros(1, dtype=torch.int64))


def _random_cat_network(
    coding: TTFSLogCoding, quantizer: WeightQuantizer, gain: float, seed: int
) -> TrainedNetwork:
    """A CAT network (as ``ConversionAwareTraining.fit`` builds it) with random weights."""
    torch.manual_seed(seed)
    module = Network(ARCH, coding.activation, quantizer, coding.input_encoder(), coding.accumulator)
    with torch.no_grad():
        for layer in module.layers:
            if isinstance(layer, WeightedLayer):
                layer.weight.mul_(gain)
                layer.bias.mul_(gain)
    return TrainedNetwork(ARCH, module.double().eval(), conversion_aware=True)


def _assert_ann_is_the_snn(ann: TrainedNetwork, coding: TTFSLogCoding, snn, x) -> None:  # noqa: ANN001
    """Every spike time and every read-out potential of the SNN, from the ANN's trace."""
    with torch.no_grad():
        trace = ann.module.trace(x)
    out = coding.run(snn, x)
    T, theta = coding.time_window, coding.threshold
    for i, times in enumerate(out["times"]):
        if times is None:
            continue
        a = trace[i] / theta  # 2^-t or 0
        implied = torch.where(a > 0, -torch.log2(a.clamp_min(1e-300)), torch.full_like(a, T))
        assert torch.equal(times.to(torch.float64), implied), f"layer {i}"
    readout = out["potential"] * (theta * 2.0**-coding.frac_bits)
    assert torch.equal(readout, trace[-1])  # bit for bit, saturation and truncation included
    return out["lost"].sum(0)


@pytest.mark.parametrize("encoding", ["spikes", "analog"])
@pytest.mark.parametrize("theta", [1.0, 0.5, 4.0])
@pytest.mark.parametrize(
    ("acc_bits", "frac_bits", "gain", "lost"),
    [
        (48, 40, 1.0, "nothing"),  # the float sum is exact: one conv per layer
        (32, 12, 1.0, "truncates"),  # truncation only: float sum minus the dropped bits
        (12, 8, 1.0, "truncates"),
        (10, 8, 3.0, "both"),  # step by step: saturation after every input time step
        (9, 7, 3.0, "both"),
    ],
)
def test_random_cat_network_equals_the_snn(
    encoding: str, theta: float, acc_bits: int, frac_bits: int, gain: float, lost: str
) -> None:
    coding = TTFSLogCoding(
        time_window=6,
        threshold=theta,
        accumulator_bits=acc_bits,
        frac_bits=frac_bits,
        input_encoding=encoding,
    )
    quantizer = LogQuantizer(5)
    x = torch.rand(48, 2, 6, 6, generator=torch.Generator().manual_seed(3))
    seen = torch.zeros(2, dtype=torch.float64)
    for seed in range(3):  # (a larger theta divides the first layer's potentials)
        ann = _random_cat_network(coding, quantizer, gain * max(theta, 1.0), seed)
        snn = coding.convert(ann, quantizer, NO_CALIBRATION)
        seen += _assert_ann_is_the_snn(ann, coding, snn, x)
    # the case exercises what it says (truncated products, saturated neurons)
    expected = {"nothing": (False, False), "truncates": (True, False), "both": (True, True)}
    assert (bool(seen[0] > 0), bool(seen[1] > 0)) == expected[lost], seen


@pytest.mark.parametrize("encoding", ["spikes", "analog"])
def test_uniform_weights_are_modelled_too(encoding: str) -> None:
    """Non-power-of-two weights: every product is truncated, at any width."""
    quantizer = UniformQuantizer(6)
    x = torch.rand(32, 2, 6, 6, generator=torch.Generator().manual_seed(4))
    for acc_bits, frac_bits, gain in [(32, 24, 1.0), (12, 8, 1.0), (9, 7, 3.0)]:
        coding = TTFSLogCoding(
            time_window=6, accumulator_bits=acc_bits, frac_bits=frac_bits, input_encoding=encoding
        )
        ann = _random_cat_network(coding, quantizer, gain, seed=1)
        snn = coding.convert(ann, quantizer, NO_CALIBRATION)
        seen = _assert_ann_is_the_snn(ann, coding, snn, x)
        assert seen[0] > 0


def test_gradient_is_the_float_ops_where_nothing_can_saturate() -> None:
    """Truncation only: forward the SNN's sums, backward that of conv(x, w) + b."""
    coding = TTFSLogCoding(time_window=6, accumulator_bits=32, frac_bits=7, input_encoding="spikes")
    spec = ARCH.layers[0]
    g = torch.Generator().manual_seed(5)
    x = (2.0 ** -torch.randint(0, 6, (4, 2, 6, 6), generator=g)).requires_grad_()
    w = LogQuantizer(5).quantize(torch.randn(4, 2, 3, 3, generator=g)).requires_grad_()
    b = torch.randn(4, generator=g).requires_grad_()
    for acc in (coding.accumulator(first=True), coding.accumulator(first=False)):
        y = acc(spec, x, w, b)
        upstream = torch.randn(y.shape, generator=g)
        grads = torch.autograd.grad((y * upstream).sum(), (x, w, b))
        ref = torch.nn.functional.conv2d(x, w, b, 1, 1)
        ref_grads = torch.autograd.grad((ref * upstream).sum(), (x, w, b))
        for got, want in zip(grads, ref_grads, strict=True):
            assert torch.allclose(got, want, atol=1e-5)
        with torch.no_grad():
            assert torch.equal(acc(spec, x, w, b), y.detach())  # the same forward values
            assert not torch.equal(y.detach(), ref)  # which are not the float op's


def _unrolled(x, w, b, T: int, F: int, B: int):  # noqa: ANN001, ANN202
    """Reference for a saturating linear layer (theta = 1, hidden inputs 2^-t), in LSBs:
    per input time step, the products one by one (forward truncated, backward the float
    products x * w), the sum clipped after each step (the clip's exact gradient)."""
    lo, hi = -(2.0 ** (B - 1)), 2.0 ** (B - 1) - 1
    bl = b * 2.0**F
    v = torch.clamp(torch.round(bl.detach()) + (bl - bl.detach()), lo, hi).expand(x.shape[0], -1)
    for t in range(T):
        at_t = (x.detach() == 2.0**-t).to(x.dtype)  # (N, I): inputs spiking at t
        exact = at_t[:, None, :] * torch.trunc(w.detach() * 2.0 ** (F - t))[None]
        real = (x * at_t)[:, None, :] * w[None] * 2.0**F  # (N, O, I)
        v = torch.clamp(v + (exact + (real - real.detach())).sum(-1), lo, hi)
    return v * 2.0**-F


def test_saturating_layers_train_through_their_steps() -> None:
    """Where the sum can saturate, gradients follow the step-by-step dynamics: a neuron
    clipped at the range's end stops passing gradient to what came before."""
    T, F, B = 6, 7, 9
    coding = TTFSLogCoding(time_window=T, accumulator_bits=B, frac_bits=F)
    acc = coding.accumulator(first=False)
    spec = Linear(7)
    g = torch.Generator().manual_seed(7)
    x = (2.0 ** -torch.randint(0, T + 2, (16, 20), generator=g)).double()
    x = torch.where(x >= 2.0 ** -(T - 1), x, torch.zeros_like(x)).requires_grad_()
    w = (LogQuantizer(5).quantize(torch.randn(7, 20, generator=g)) * 2).double().requires_grad_()
    b = torch.randn(7, generator=g, dtype=torch.float64).requires_grad_()
    y = acc(spec, x, w, b)
    ref = _unrolled(x, w, b, T, F, B)
    assert torch.equal(y.detach(), ref.detach())
    with torch.no_grad():
        assert torch.equal(acc(spec, x, w, b), y.detach())  # eval mode: the same values
    bounds = (y.detach() == -(2.0 ** (B - 1 - F))) | (y.detach() == 2.0 ** (B - 1 - F) - 2.0**-F)
    assert 0 < int(bounds.sum()) < bounds.numel()  # some neurons saturate, not all
    upstream = torch.randn(y.shape, generator=g, dtype=torch.float64)
    grads = torch.autograd.grad((y * upstream).sum(), (x, w, b))
    ref_grads = torch.autograd.grad((ref * upstream).sum(), (x, w, b))
    for got, want in zip(grads, ref_grads, strict=True):
        assert torch.allclose(got, want, rtol=1e-12, atol=1e-12)
    float_grads = torch.autograd.grad((torch.nn.functional.linear(x, w, b) * upstream).sum(), w)
    assert not torch.allclose(grads[1], float_grads[0])  # not the float op's gradient


def test_batches_that_stay_in_range_keep_the_float_gradient(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Weights that could saturate (sum |w| beyond the range), inputs that keep every
    partial sum inside it: the cheaper model (float op's gradient) is used, still exact."""
    calls: list[bool] = []
    real = ttfs_log_module._weighted
    monkeypatch.setattr(ttfs_log_module, "_weighted", lambda *a: calls.append(True) or real(*a))
    T, F, B = 6, 7, 9
    acc = TTFSLogCoding(time_window=T, accumulator_bits=B, frac_bits=F).accumulator(first=False)
    spec = Linear(5)
    g = torch.Generator().manual_seed(8)
    w = (torch.sign(torch.randn(5, 40, generator=g)) * 0.5).double().requires_grad_()
    assert float(w.detach().abs().sum(1).max()) > 2.0  # statically, +-2 theta can be passed
    x = torch.zeros(6, 40, dtype=torch.float64)
    x[:, :3] = 2.0 ** -torch.randint(1, T, (6, 3), generator=g).double()  # a few late spikes
    x.requires_grad_()
    b = (torch.randn(5, generator=g, dtype=torch.float64) * 0.1).requires_grad_()
    y = acc(spec, x, w, b)
    assert len(calls) == 2  # the range check and the float op, not 2 ops per time step
    with torch.no_grad():
        assert torch.equal(acc(spec, x, w, b), y.detach())
    upstream = torch.randn(y.shape, generator=g, dtype=torch.float64)
    grads = torch.autograd.grad((y * upstream).sum(), (x, w, b))
    ref = torch.nn.functional.linear(x, w, b)
    ref_grads = torch.autograd.grad((ref * upstream).sum(), (x, w, b))
    for got, want in zip(grads, ref_grads, strict=True):
        assert torch.allclose(got, want, rtol=1e-12, atol=1e-12)


def test_wide_accumulator_costs_one_op_per_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    """When nothing can truncate or saturate, the model is the float op: no per-step convs."""
    calls: list[bool] = []
    real = ttfs_log_module._weighted

    def counting(spec, x, w, b):  # noqa: ANN001, ANN202
        calls.append(b is not None)
        return real(spec, x, w, b)

    monkeypatch.setattr(ttfs_log_module, "_weighted", counting)
    x = torch.rand(8, 2, 6, 6, generator=torch.Generator().manual_seed(6))
    wide = TTFSLogCoding(time_window=6, accumulator_bits=48, frac_bits=40)
    ann = _random_cat_network(wide, LogQuantizer(5), 1.0, seed=0)
    ann.module(x)
    assert calls == [True] * 4  # one op per weighted layer, with the (rounded) bias
    calls.clear()
    narrow = TTFSLogCoding(time_window=6, accumulator_bits=9, frac_bits=7)
    ann = _random_cat_network(narrow, LogQuantizer(5), 3.0, seed=0)
    ann.module(x)
    assert len(calls) > 4  # the narrow one pays for its steps


def test_rate_coding_has_no_accumulator_model() -> None:
    rate = RateCoding()
    assert rate.accumulator(True) is None and rate.accumulator(False) is None
    module = Network(ARCH, rate.activation, LogQuantizer(5), None, rate.accumulator)
    assert all(m.accumulator is None for m in module.layers if isinstance(m, WeightedLayer))


@pytest.fixture(scope="module")
def digits() -> DataSplits:
    return Digits().load()


@pytest.mark.parametrize(
    ("encoding", "acc_bits", "frac_bits"),
    [
        ("analog", 12, 8),
        ("analog", 10, 7),
        ("analog", 9, 7),
        ("spikes", 12, 8),
        ("spikes", 10, 7),
    ],
)
def test_cat_conversion_is_exact_at_narrow_accumulators(
    digits: DataSplits, encoding: str, acc_bits: int, frac_bits: int
) -> None:
    """Zero conversion loss, prediction for prediction, where the SNN truncates products
    (and, at 9/7 and 10/7, saturates potentials)."""
    coding = TTFSLogCoding(
        time_window=8, accumulator_bits=acc_bits, frac_bits=frac_bits, input_encoding=encoding
    )
    quantizer = LogQuantizer(5)
    arch = SmallCNN().build(digits.input_shape, digits.num_classes)
    ann = ConversionAwareTraining(epochs=2).fit(arch, digits, quantizer, coding, seed=0)
    snn = coding.convert(ann, quantizer, digits.train)
    result = coding.simulate(snn, digits.test)
    with torch.no_grad():
        ann_pred = ann.module(digits.test.x).argmax(1)
    assert torch.equal(torch.as_tensor(result.predictions), ann_pred)
    assert result.accuracy > 60.0  # it learnt something: the equality is not trivial
    lost = result.accumulator
    assert lost is not None and lost.truncated_products > 0
    _assert_ann_is_the_snn(ann, coding, snn, digits.val.x[:64])


class TestNarrowAccumulatorMeetsTheCodingContract(SpikeCodingContract):
    """The spike-coding contract (the SNN predicts what the CAT network predicts, every
    one) holds at 9 bits, 7 fractional, where the SNN truncates most products (without
    the accumulator model, 34 of these 128 predictions differ)."""

    def make_coding(self) -> TTFSLogCoding:
        return TTFSLogCoding(accumulator_bits=9, frac_bits=7)
