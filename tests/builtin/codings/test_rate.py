"""Rate coding: QCFS activation, step-by-step integrate-and-fire, convergence in T."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dse.api.architecture import Architecture, AvgPool2d, Conv2d, Flatten, Linear, MaxPool2d
from dse.api.errors import ConfigError
from dse.api.network import LayerParams, SpikingNetwork
from dse.builtin.codings.rate import RateCoding, qcfs_quantize

ARCH = Architecture(
    "tiny",
    (1, 8, 8),
    4,
    (Conv2d(4), MaxPool2d(2, 2), Conv2d(6), AvgPool2d(2, 2), Flatten(), Linear(16), Linear(4)),
)


def _snn(seed: int = 0) -> SpikingNetwork:
    """Random network with dyadic weights and biases (exact in the accumulator)."""
    g = torch.Generator().manual_seed(seed)
    layers = []
    for spec, (in_shape, _) in zip(ARCH.layers, ARCH.shapes(), strict=True):
        if isinstance(spec, Conv2d):
            shape: tuple[int, ...] = (spec.out_channels, in_shape[0], 3, 3)
        elif isinstance(spec, Linear):
            shape = (spec.out_features, in_shape[0])
        else:
            layers.append(LayerParams(spec))
            continue
        fan_in = torch.tensor(shape[1:]).prod().item()
        w = torch.randn(shape, generator=g, dtype=torch.float64) * (2.0 / fan_in) ** 0.5
        b = torch.randn(shape[0], generator=g, dtype=torch.float64) * 0.1
        layers.append(
            LayerParams(spec, torch.round(w * 2**10) / 2**10, torch.round(b * 2**10) / 2**10)
        )
    return SpikingNetwork(ARCH, layers, time_window=8)


def _ann(snn: SpikingNetwork, x: torch.Tensor, act) -> list[torch.Tensor]:  # noqa: ANN001
    """The ANN the SNN approximates, with activation ``act`` after every firing layer."""
    h = torch.round(x.double() * 256) / 256
    outs = []
    last = len(snn.layers) - 1
    for i, p in enumerate(snn.layers):
        spec = p.spec
        if isinstance(spec, Conv2d):
            h = act(F.conv2d(h, p.weight, p.bias, spec.stride, spec.padding))
        elif isinstance(spec, Linear):
            h = F.linear(h, p.weight, p.bias)
            h = h if i == last else act(h)
        elif isinstance(spec, MaxPool2d):
            h = F.max_pool2d(h, spec.kernel, spec.stride)
        elif isinstance(spec, AvgPool2d):
            h = F.avg_pool2d(h, spec.kernel, spec.stride)
        else:
            h = h.flatten(1)
        outs.append(h)
    return outs


def _x(n: int = 64) -> torch.Tensor:
    return torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(7))


def test_qcfs_activation_values_and_gradient() -> None:
    x = torch.tensor([-0.3, 0.1, 0.13, 0.5, 0.87, 1.4], requires_grad=True)
    act = RateCoding(time_window=4).activation()
    y = act(x)
    # floor(4x + 0.5) / 4 clipped to [0, 1]
    assert y.tolist() == [0.0, 0.0, 0.25, 0.5, 0.75, 1.0]
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 1.0, 0.0]
    assert torch.equal(qcfs_quantize(torch.tensor([0.6]), 2.0, 4), torch.tensor([0.5]))


@pytest.mark.parametrize("T", [1, 3, 8, 32])
def test_first_layer_spike_counts_are_exactly_the_qcfs_activation(T: int) -> None:
    # constant analog input current + V(0) = theta / 2: count = floor(T x + 1/2), clipped
    snn, x = _snn(), _x()
    counts = RateCoding(time_window=T).run(snn, x)["counts"][0]
    expected = _ann(snn, x, lambda v: qcfs_quantize(v, 1.0, T))[0] * T
    assert torch.equal(counts, expected)


def test_output_converges_to_the_ann_as_time_grows() -> None:
    snn, x = _snn(), _x()
    # T -> infinity: the quantized ANN activation tends to the clipped identity
    ann = _ann(snn, x, lambda v: torch.clamp(v, 0, 1))
    errors = {}
    for T in (4, 16, 64, 256):
        out = RateCoding(time_window=T).run(snn, x)
        hidden = out["counts"][5] / T  # Linear(16) spike rate
        errors[T] = float((hidden - ann[5]).abs().mean())
        # the layer's own T-level quantized ANN differs too at small T: time is simulated
        if T == 4:
            deep_q = _ann(snn, x, lambda v: qcfs_quantize(v, 1.0, 4))[5]
            assert float((hidden - deep_q).abs().mean()) > 0
    assert errors[4] > 0.02
    assert errors[256] < errors[16] < errors[4]
    assert errors[256] < errors[4] / 4


def test_counts_are_simulated_spike_trains() -> None:
    snn, x = _snn(), _x(16)
    out = RateCoding(time_window=8).run(snn, x)
    for c in out["counts"]:
        if c is not None:
            assert torch.equal(c, torch.round(c)) and c.min() >= 0
    assert out["counts"][0].max() <= 8  # one spike per step at most
    act = out["activity"]  # conv1, pool1, conv2, pool2, linear1, linear2
    assert act.shape == (6, 16, 4) and torch.all(act[:, :, 3] == 8)
    # linear synops = input spikes x fan-out, summed over steps
    assert torch.equal(act[5, :, 2], act[5, :, 0] * 4)
    assert torch.equal(act[4, :, 1], out["counts"][5].sum(1))
    assert torch.equal(act[0, :, 1], out["counts"][0].flatten(1).sum(1))


def test_input_encodings() -> None:
    snn, x = _snn(), _x(8)
    pixels = torch.round(x.double() * 256) / 256
    det = RateCoding(time_window=16, input_encoding="deterministic").run(snn, x)
    # integrate-and-fire encoder from 1/2: round(p T) input spikes per pixel
    expected = torch.floor(pixels * 16 + 0.5).flatten(1).sum(1)
    assert torch.equal(det["activity"][0, :, 0], expected)
    a = RateCoding(time_window=16, input_encoding="poisson", seed=0).run(
        snn, x, generator=torch.Generator().manual_seed(0)
    )
    b = RateCoding(time_window=16, input_encoding="poisson", seed=1).run(
        snn, x, generator=torch.Generator().manual_seed(1)
    )
    assert not torch.equal(a["activity"][0, :, 0], b["activity"][0, :, 0])
    assert torch.allclose(a["activity"][0, :, 0], expected, rtol=0.2)


def test_narrow_accumulator_changes_the_output() -> None:
    snn, x = _snn(), _x()
    wide = RateCoding(time_window=16).run(snn, x)["potential"]
    narrow = RateCoding(time_window=16, accumulator_bits=6, frac_bits=3).run(snn, x)["potential"]
    assert not torch.equal(wide.argmax(1), narrow.argmax(1))


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("coding.time_window", {"time_window": 0}),
        ("coding.accumulator_bits", {"frac_bits": 16, "accumulator_bits": 17}),
        ("coding.input_encoding", {"input_encoding": "spikes"}),
        ("coding.initial_potential", {"initial_potential": 1.0}),
    ],
)
def test_invalid_config_names_the_field(field: str, kwargs: dict) -> None:
    with pytest.raises(ConfigError, match=field):
        RateCoding(**kwargs)


def _step_by_step(coding: RateCoding, snn: SpikingNetwork, x: torch.Tensor, gen) -> dict:  # noqa: ANN001
    """The straightforward simulation (the plugin's first version): every step runs all
    layers in float64. The plugin batches time per layer; both must agree bit for bit."""
    T, one = coding.time_window, 2.0**coding.frac_bits
    top = 2.0 ** (coding.accumulator_bits - 1)
    n, layers = x.shape[0], snn.layers
    last = len(layers) - 1
    pixels = torch.round(x.double() * 256)
    first = next(i for i, p in enumerate(layers) if p.weight is not None)
    enc_v = torch.full_like(pixels, 128.0)
    state: dict = {}
    counts: list = [None] * len(layers)
    act = torch.zeros(6, n, 4, dtype=torch.float64)
    act[:, :, 3] = T
    for _ in range(T):
        if coding.input_encoding == "analog":
            s = (pixels > 0).double()
        elif coding.input_encoding == "poisson":
            s = (
                torch.rand(pixels.shape, generator=gen, dtype=torch.float64) < pixels / 256
            ).double()
        else:
            enc_v = enc_v + pixels
            s = (enc_v >= 256).double()
            enc_v = enc_v - s * 256
        divisor, row = 1.0, 0
        for i, p in enumerate(layers):
            spec = p.spec
            if isinstance(spec, Flatten):
                s = s.reshape(n, -1)
                continue
            act[row, :, 0] += (s > 0).reshape(n, -1).sum(1)
            if isinstance(spec, MaxPool2d):
                c = state.get(i, torch.zeros_like(s)) + s
                state[i] = c
                _, idx = F.max_pool2d(c * 2 + s, spec.kernel, spec.stride, return_indices=True)
                s = s.flatten(2).gather(2, idx.flatten(2)).view(idx.shape)
            elif isinstance(spec, AvgPool2d):
                s = F.avg_pool2d(s, spec.kernel, spec.stride) * spec.kernel**2
                divisor *= spec.kernel**2
            else:
                op = F.conv2d if isinstance(spec, Conv2d) else F.linear
                extra = (spec.stride, spec.padding) if isinstance(spec, Conv2d) else ()
                bias = torch.round(p.bias * one)
                bias = bias.reshape(1, -1, 1, 1) if isinstance(spec, Conv2d) else bias
                if i == first and coding.input_encoding == "analog":
                    current = torch.trunc(op(pixels, p.weight * one / 256, None, *extra))
                else:
                    current = torch.trunc(
                        op(s, torch.trunc(p.weight * one), None, *extra) / divisor
                    )
                divisor = 1.0
                start = 0.0 if i == last else round(coding.initial_potential * one)
                v = state.get(i, torch.full_like(current, start))
                v = torch.clamp(v + current + bias, -top, top - 1)
                if i == last:
                    state[i] = v
                    continue
                s = (v >= one).double()
                state[i] = v - s * one
            act[row, :, 1] += (s > 0).reshape(n, -1).sum(1)
            counts[i] = s if counts[i] is None else counts[i] + s
            row += 1
    return {"counts": counts, "potential": state[last], "activity": act}


@pytest.mark.parametrize(
    ("encoding", "T", "acc_bits", "frac_bits", "chunk_elements", "min_slice"),
    [
        ("analog", 8, 32, 16, 2**25, 64),  # all steps in one chunk, float32 potentials
        ("analog", 13, 32, 16, 20000, 64),  # chunks of 3 steps (memory bound)
        ("deterministic", 16, 20, 10, 2**25, 64),
        ("poisson", 8, 32, 16, 5000, 64),  # one step per chunk
        ("poisson", 8, 32, 16, 20000, 5),  # slices of 9 samples, all steps
        ("deterministic", 13, 32, 16, 6000, 5),  # slices of 5 samples, chunks of 3 steps
        ("analog", 16, 6, 3, 2**25, 64),  # narrow: saturation and truncation
        ("deterministic", 12, 48, 30, 4000, 64),  # wide: float64 potentials, split convs
    ],
)
def test_time_batched_simulation_equals_step_by_step(
    encoding: str,
    T: int,
    acc_bits: int,
    frac_bits: int,
    chunk_elements: int,
    min_slice: int,
    monkeypatch,  # noqa: ANN001
) -> None:
    import dse.builtin.codings.rate as rate

    monkeypatch.setattr(rate, "_CHUNK_ELEMENTS", chunk_elements)
    monkeypatch.setattr(rate, "_MIN_SLICE", min_slice)
    coding = RateCoding(
        time_window=T, accumulator_bits=acc_bits, frac_bits=frac_bits, input_encoding=encoding
    )
    for seed in range(2):
        snn, x = _snn(seed), _x(24)
        fast = coding.run(snn, x, generator=torch.Generator().manual_seed(seed))
        ref = _step_by_step(coding, snn, x, torch.Generator().manual_seed(seed))
        assert torch.equal(fast["potential"], ref["potential"])
        assert torch.equal(fast["activity"][:, :, [1, 3]], ref["activity"][:, :, [1, 3]])
        assert torch.equal(fast["activity"][:, :, 0], ref["activity"][:, :, 0])
        for a, b in zip(fast["counts"], ref["counts"], strict=True):
            assert (a is None and b is None) or torch.equal(a, b)
