"""ttfs_log coding: the quantizer, and the vectorised simulation against a naive event loop."""

from __future__ import annotations

import math

import pytest
import torch

from dse.api.architecture import Architecture, AvgPool2d, Conv2d, Flatten, Linear, MaxPool2d
from dse.api.errors import ConfigError
from dse.api.network import LayerParams, SpikingNetwork
from dse.builtin.codings.ttfs_log import TTFSLogCoding, ttfs_log_quantize
from dse.builtin.quantizers import LogQuantizer

ARCH = Architecture(
    "tiny",
    (1, 4, 4),
    3,
    (Conv2d(3, kernel=3, stride=1, padding=1), MaxPool2d(2, 2), Flatten(), Linear(6), Linear(3)),
)


def test_quantizer_values_follow_the_definition() -> None:
    x = torch.tensor([2.0, 1.0, 0.99, 0.5, 0.3, 0.25, 0.2, 0.0, -1.0], dtype=torch.float64)
    # theta = 1, T = 3: values {1, 1/2, 1/4} U {0}; floor in log2, clip at theta
    expected = [1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.0, 0.0, 0.0]
    assert ttfs_log_quantize(x, 1.0, 3).tolist() == expected
    # theta = 2: thresholds 2, 1, 0.5
    assert ttfs_log_quantize(x, 2.0, 3).tolist() == [2.0, 1.0, 0.5, 0.5, 0.0, 0.0, 0, 0, 0]


def test_activation_is_straight_through_of_the_clipped_identity() -> None:
    act = TTFSLogCoding(time_window=4).activation()
    x = torch.tensor([-0.5, 0.1, 0.3, 0.7, 1.5], requires_grad=True)
    y = act(x)
    assert y.tolist() == [0.0, 0.0, 0.25, 0.5, 1.0]  # 0.1 < 2^-3: no spike
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]


def test_average_pooling_is_refused() -> None:
    arch = Architecture("avg", (1, 4, 4), 2, (Conv2d(2), AvgPool2d(2, 2), Flatten(), Linear(2)))
    with pytest.raises(ConfigError, match="average pooling is not a spike operation"):
        TTFSLogCoding().check_architecture(arch)


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("coding.time_window", {"time_window": 0}),
        ("coding.frac_bits", {"time_window": 8, "frac_bits": 6}),
        ("coding.accumulator_bits", {"frac_bits": 10, "accumulator_bits": 11}),
        ("coding.input_encoding", {"input_encoding": "poisson"}),
        ("coding.threshold", {"threshold": 0.0}),
    ],
)
def test_invalid_config_names_the_field(field: str, kwargs: dict) -> None:
    with pytest.raises(ConfigError, match=field):
        TTFSLogCoding(**kwargs)


def _random_snn(seed: int, bits: int = 5) -> SpikingNetwork:
    g = torch.Generator().manual_seed(seed)
    q = LogQuantizer(bits)
    layers = []
    for spec, (in_shape, _) in zip(ARCH.layers, ARCH.shapes(), strict=True):
        if isinstance(spec, Conv2d):
            w = torch.randn(spec.out_channels, in_shape[0], 3, 3, generator=g, dtype=torch.float64)
            b = torch.randn(spec.out_channels, generator=g, dtype=torch.float64) * 0.1
        elif isinstance(spec, Linear):
            w = torch.randn(spec.out_features, in_shape[0], generator=g, dtype=torch.float64)
            b = torch.randn(spec.out_features, generator=g, dtype=torch.float64) * 0.1
        else:
            layers.append(LayerParams(spec))
            continue
        layers.append(LayerParams(spec, q.quantize(w * 0.6), b))
    return SpikingNetwork(ARCH, layers, time_window=4)


def _naive(snn: SpikingNetwork, image: torch.Tensor, T: int, F: int, B: int):  # noqa: ANN202
    """Event by event with Python integers: spike at t through +-2^k adds +-2^(F-t+k) LSBs
    (0 when shifted out), saturation after each time step. Returns spike times per layer
    (dict neuron -> t), the read-out potentials and what the accumulator lost: products
    shifted out, neurons that saturated (at least once)."""
    lo, hi = -(2 ** (B - 1)), 2 ** (B - 1) - 1
    lost = {"truncated": 0, "saturated": 0}

    def sat(v: int) -> int:
        return max(lo, min(hi, v))

    def shift_product(w: float, t: int) -> int:
        if w == 0:
            return 0
        _, e = math.frexp(abs(w))  # |w| = 2^(e-1)
        s = F - t + (e - 1)
        mag = (1 << s) if s >= 0 else 0
        lost["truncated"] += s < 0
        return mag if w > 0 else -mag

    def fire(v: int) -> int | None:
        for t in range(T):
            if v >= (1 << (F - t)):
                return t
        return None

    def integrate(bias: float, inputs: list[tuple[float, int]]) -> int:
        v = round(bias * 2**F)
        clipped = sat(v) != v
        v = sat(v)
        for t in range(T):
            step = sum(shift_product(w, t) for w, ti in inputs if ti == t)
            if any(ti == t for _, ti in inputs):
                clipped |= sat(v + step) != v + step
                v = sat(v + step)
        lost["saturated"] += clipped
        return v

    # pixels -> spike times (theta_in = 1)
    spikes: dict[tuple, int] = {}
    for c in range(image.shape[0]):
        for y in range(image.shape[1]):
            for x in range(image.shape[2]):
                p = float(image[c, y, x])
                for t in range(T):
                    if p >= 2.0**-t:
                        spikes[(c, y, x)] = t
                        break
    conv, pool, _, lin1, lin2 = snn.layers
    w, b = conv.weight, conv.bias
    conv_times = {}
    for o in range(3):
        for y in range(4):
            for x in range(4):
                inputs = []
                for ky in range(3):
                    for kx in range(3):
                        yy, xx = y + ky - 1, x + kx - 1
                        if (0, yy, xx) in spikes:
                            inputs.append((float(w[o, 0, ky, kx]), spikes[(0, yy, xx)]))
                t = fire(integrate(float(b[o]), inputs))
                if t is not None:
                    conv_times[(o, y, x)] = t
    pool_times = {}
    for o in range(3):
        for y in range(2):
            for x in range(2):
                ts = [
                    conv_times[(o, 2 * y + a, 2 * x + c)]
                    for a in range(2)
                    for c in range(2)
                    if (o, 2 * y + a, 2 * x + c) in conv_times
                ]
                if ts:
                    pool_times[(o * 4 + y * 2 + x,)] = min(ts)  # flatten order (C, H, W)
    hidden = {}
    for j in range(6):
        inputs = [(float(lin1.weight[j, i]), t) for (i,), t in pool_times.items()]
        t = fire(integrate(float(lin1.bias[j]), inputs))
        if t is not None:
            hidden[j] = t
    out = []
    for k in range(3):
        inputs = [(float(lin2.weight[k, j]), t) for j, t in hidden.items()]
        out.append(integrate(float(lin2.bias[k]), inputs))
    return conv_times, hidden, out, lost


@pytest.mark.parametrize(("frac_bits", "acc_bits"), [(24, 32), (5, 8), (3, 6), (4, 6), (3, 5)])
def test_simulation_matches_a_naive_event_by_event_reference(frac_bits: int, acc_bits: int) -> None:
    T = 4
    coding = TTFSLogCoding(
        time_window=T, frac_bits=frac_bits, accumulator_bits=acc_bits, input_encoding="spikes"
    )
    g = torch.Generator().manual_seed(1)
    x = torch.rand(12, 1, 4, 4, generator=g)
    seen = torch.zeros(2, dtype=torch.int64)
    for seed in range(3):
        snn = _random_snn(seed)
        out = coding.run(snn, x)
        for n in range(x.shape[0]):
            conv_times, hidden, potential, lost = _naive(snn, x[n], T, frac_bits, acc_bits)
            sim_conv = out["times"][0][n]
            expect = torch.full((3, 4, 4), T, dtype=torch.int64)
            for (o, yy, xx), t in conv_times.items():
                expect[o, yy, xx] = t
            assert torch.equal(sim_conv, expect)
            sim_hidden = out["times"][3][n]
            assert {j: int(t) for j, t in enumerate(sim_hidden) if t < T} == hidden
            assert out["potential"][n].tolist() == [float(v) for v in potential]
            assert out["lost"][n].tolist() == [lost["truncated"], lost["saturated"]]
            seen += torch.tensor([lost["truncated"], lost["saturated"]])
    # the reference's counts were really exercised: narrow accumulators truncate, and the
    # narrowest (sign + 1 integer bit) saturates
    assert (seen[0] > 0) == (acc_bits < 32) and (seen[1] > 0) == (acc_bits == frac_bits + 2)


def test_activity_counts_real_events() -> None:
    coding = TTFSLogCoding(time_window=4, input_encoding="spikes")
    snn = _random_snn(0)
    x = torch.rand(5, 1, 4, 4, generator=torch.Generator().manual_seed(2))
    out = coding.run(snn, x)
    act = out["activity"]  # (layers: conv1, pool1, linear1, linear2) x N x 4
    assert act.shape == (4, 5, 4)
    times = out["times"]
    for n in range(5):
        in_sp = ttfs_log_quantize(x[n], 1.0, 4) > 0
        assert act[0, n, 0] == in_sp.sum()
        # synops: each input spike reaches 3 channels x (receptive fields containing it)
        fields = torch.nn.functional.conv2d(
            in_sp[None].double(), torch.ones(1, 1, 3, 3, dtype=torch.float64), padding=1
        )
        assert act[0, n, 2] == fields.sum() * 3
        assert act[0, n, 1] == (times[0][n] < 4).sum()
        assert act[1, n, 1] == (times[1][n] < 4).sum()
        assert act[2, n, 2] == (times[1][n] < 4).sum() * 6  # linear fan-out 6
        assert act[3, n, 1] == 0  # the read-out does not fire
    assert torch.all(act[:, :, 3] == 4)


@pytest.mark.parametrize("spread", [4, 12, 22, 30, 38])
def test_integer_op_is_exact_with_float32_parts(spread: int) -> None:
    """Integer conv / linear against float64 (exact here: every sum < 2^53), with weights
    from 1 to 2^spread: one float32 part, split parts, or the float64 fallback."""
    from dse.builtin.codings._common import IntegerOp

    g = torch.Generator().manual_seed(spread)
    for spec, shape, x_shape in [
        (Conv2d(8, kernel=3, stride=1, padding=1), (8, 6, 3, 3), (16, 6, 5, 5)),
        (Linear(7), (7, 40), (16, 40)),
    ]:
        e = torch.randint(0, spread + 1, shape, generator=g).double()
        w = torch.randint(-1, 2, shape, generator=g).double() * 2.0**e  # log-like weights
        w += torch.randint(-3, 4, shape, generator=g).double()  # and arbitrary integers
        bias = torch.randint(-(2**20), 2**20, (shape[0],), generator=g).double()
        x_max = 128.0
        x = 2.0 ** torch.randint(0, 8, x_shape, generator=g).double()
        x *= torch.rand(x_shape, generator=g) < 0.6
        op = IntegerOp(LayerParams(spec, w, bias), w, x_max, bias=bias)
        if isinstance(spec, Conv2d):
            ref = torch.nn.functional.conv2d(x, w, bias, 1, 1)
        else:
            ref = torch.nn.functional.linear(x, w, bias)
        assert op.bound < 2.0**53
        assert torch.equal(op(x).to(torch.float64), ref), (spread, len(op.scales))


def test_spike_code_from_exponent_bits_matches_frexp() -> None:
    """_fire reads 2^floor(log2 V) off the exponent bits; the definition: first t with
    V >= 2^(F-t), none after T-1."""
    for T, F in [(8, 24), (4, 3), (8, 30), (5, 10)]:
        coding = TTFSLogCoding(time_window=T, frac_bits=F, accumulator_bits=F + 8)
        edges = torch.tensor([2.0**k + d for k in range(0, F + 3) for d in (-1, 0, 1)])
        v = torch.cat([edges, -edges, torch.tensor([0.0]), torch.randint(-(2**F), 2**F, (999,))])
        expected = []
        for value in v.tolist():
            t = next((t for t in range(T) if value >= 2 ** (F - t)), None)
            expected.append(0.0 if t is None else 2.0 ** (T - 1 - t))
        for dtype in (torch.float64, torch.float32):
            if dtype == torch.float32 and F + 3 > 24:
                continue  # float32 potentials only hold integers below 2^24
            assert coding._fire(v.to(dtype)).tolist() == expected
