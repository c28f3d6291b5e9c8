"""Weight quantizers: level sets, idempotence, code counts, rounding rules."""

from __future__ import annotations

import math

import pytest
import torch

from dse.api.errors import ConfigError
from dse.builtin.quantizers import FloatQuantizer, LogQuantizer, UniformQuantizer


def _weights(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    # heavy-tailed, wide dynamic range, some exact zeros: like trained conv weights
    w = torch.randn(16, 8, 3, 3, generator=g) * torch.exp(torch.randn(16, 8, 3, 3, generator=g))
    w[0, 0] = 0.0
    return w * 0.1


@pytest.mark.parametrize("bits", [2, 3, 4, 5, 6, 7])
def test_log_weights_lie_on_the_level_set_and_requantize_unchanged(bits: int) -> None:
    q = LogQuantizer(bits)
    w = _weights(bits)
    wq = q.quantize(w)
    levels = q.levels(w)
    assert torch.isin(wq, levels).all()
    assert torch.equal(q.quantize(wq), wq)
    assert torch.equal(q.levels(wq), levels)  # same scale after requantization
    # magnitudes are powers of two (shift-only hardware)
    mags = wq[wq != 0].abs().double()
    assert torch.equal(torch.log2(mags), torch.round(torch.log2(mags)))


@pytest.mark.parametrize("bits", [2, 3, 4, 5, 6, 7])
def test_log_code_count(bits: int) -> None:
    q = LogQuantizer(bits)
    # 1 sign bit + (bits-1) exponent bits = 2^bits codes; the zero exponent code with
    # either sign is the same weight, so 2^bits - 1 distinct values:
    # (2^(bits-1) - 1) magnitudes x 2 signs + zero.
    assert q.num_codes == 2**bits
    assert q.num_values == 2**bits - 1 == 2 * (2 ** (bits - 1) - 1) + 1
    levels = q.levels(_weights())
    assert levels.numel() == q.num_values == torch.unique(levels).numel()
    # every level is reachable: quantizing the level set returns it
    assert torch.equal(q.quantize(levels), levels)
    assert q.storage_bits == bits


def test_log_rounding_is_in_the_log_domain_and_flushes_tiny_weights() -> None:
    q = LogQuantizer(3)  # e in 0..2: levels +-1, +-1/2, +-1/4 when max|w| = 1
    w = torch.tensor([1.0, 0.75, 0.70, 0.36, 0.35, 0.25, 0.25 / math.sqrt(2) + 1e-6, 0.17, -0.6])
    # boundaries at the geometric means: 2^-0.5 = 0.7071, 2^-1.5 = 0.3536, zero below 2^-2.5
    expected = [1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.25, 0.0, -0.5]
    assert q.quantize(w).tolist() == expected


def test_log_scale_is_a_power_of_two_near_the_largest_weight() -> None:
    q = LogQuantizer(5)
    w = torch.tensor([0.3, -0.02, 0.001])
    assert q.scale_exponent(w) == round(math.log2(0.3))  # s = 2^-2
    assert q.quantize(w).abs().max() == 0.25
    assert torch.equal(q.quantize(torch.zeros(4)), torch.zeros(4))


@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("bits", [2, 3, 4, 8])
def test_uniform_weights_lie_on_the_level_set_and_requantize_unchanged(
    bits: int, per_channel: bool
) -> None:
    q = UniformQuantizer(bits, per_channel=per_channel)
    w = _weights(bits)
    wq = q.quantize(w)
    assert torch.equal(q.quantize(wq), wq)
    levels = q.levels(w)
    if per_channel:
        assert levels.shape == (16, 2**bits - 1)
        for c in range(16):
            assert torch.isin(wq[c], levels[c]).all()
            assert torch.unique(wq[c]).numel() <= 2**bits - 1
        # each channel's largest weight is exactly representable
        assert torch.equal(wq.abs().flatten(1).amax(1), w.abs().flatten(1).amax(1))
    else:
        assert levels.numel() == 2**bits - 1
        assert torch.isin(wq, levels).all()
        assert wq.abs().max() == w.abs().max()
        assert torch.unique(wq).numel() <= 2**bits - 1
    assert q.storage_bits == bits


def test_float_quantizer() -> None:
    w = _weights()
    assert torch.equal(FloatQuantizer(32).quantize(w), w)
    half = FloatQuantizer(16).quantize(w)
    assert torch.equal(half, w.half().float()) and not torch.equal(half, w)
    assert torch.equal(FloatQuantizer(16).quantize(half), half)
    assert FloatQuantizer(16).storage_bits == 16


def test_fake_quantize_passes_the_gradient_straight_through() -> None:
    w = _weights().requires_grad_(True)
    out = LogQuantizer(4).fake_quantize(w)
    assert torch.allclose(out, LogQuantizer(4).quantize(w))
    out.sum().backward()
    assert torch.equal(w.grad, torch.ones_like(w))


@pytest.mark.parametrize(
    "make",
    [
        lambda: LogQuantizer(1),
        lambda: LogQuantizer(8),
        lambda: UniformQuantizer(1),
        lambda: FloatQuantizer(8),
    ],
)
def test_invalid_bits_are_refused(make) -> None:  # noqa: ANN001
    with pytest.raises(ConfigError, match="quantizer.bits"):
        make()


def test_log_channel_scale_gives_each_output_channel_its_own_levels() -> None:
    w = torch.tensor([[1.0, 0.25, 0.1, -0.6], [2.0**-6, 2.0**-7, -(2.0**-8), 0.0]])
    layer, channel = LogQuantizer(3, scale="layer"), LogQuantizer(3, scale="channel")
    # 3 bits: magnitudes s, s/2, s/4. One layer scale (1) zeroes the small channel ...
    assert torch.equal(layer.quantize(w)[1], torch.zeros(4))
    # ... its own scale 2^-6 keeps it, on powers of two
    q = channel.quantize(w)
    assert torch.equal(q[1], torch.tensor([2.0**-6, 2.0**-7, -(2.0**-8), 0.0]))
    assert torch.equal(q[0], layer.quantize(w)[0])  # the channel holding the max: same
    assert torch.equal(channel.quantize(q), q)  # idempotent
    nonzero = q[q != 0].abs()
    assert torch.equal(torch.exp2(torch.log2(nonzero).round()), nonzero)  # shifts only
