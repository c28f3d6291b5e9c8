"""Rate coding: integrate-and-fire neurons, reset by subtraction, simulated step by step.

Definitions (the rate coding's own; the coding contract is in docs/PLUGINS.md):

* T time steps. At every step a neuron adds its input current (weighted input spikes
  plus its bias) to V; when V >= theta it emits a spike and V -= theta (reset by
  subtraction). V starts at ``initial_potential`` * theta (0.5: the QCFS choice that
  makes a constant input's spike count round to nearest, Bu et al. ICLR 2022).
* Fixed point: V is ``accumulator_bits`` wide (two's complement, saturating after each
  step's addition) with ``frac_bits`` fractional bits in units of theta; a weight enters
  the accumulator as trunc(w * 2^frac_bits) (an input spike has value theta).
* Input (``input_encoding``): ``analog`` drives the first layer with the 8-bit fixed-point
  pixels as a constant current every step (a multiply-accumulate layer; its input spikes
  in the activity are nonzero pixels x T); ``poisson`` draws a Bernoulli(p) spike per
  pixel and step (seeded by ``seed``); ``deterministic`` feeds each pixel through an
  integrate-and-fire encoder (threshold 1, start 0.5), i.e. round(p * T) evenly spaced
  spikes.
* Max pooling: spike-count gating (Rueckauer et al. 2017): at each step a window passes
  on the spike of its input neuron with the highest spike count so far (ties: the one
  spiking now, then the first). Average pooling is linear: the next layer receives the
  window's spike count and divides its weighted sum by the window size (a shift for
  2x2), truncating.
* The last layer does not fire: it accumulates its input over the T steps; the class is
  the argmax of that potential.
* Activity sums over the T steps (per inference); time_steps = T.

Simulation: layer by layer over chunks of time steps. A layer's input current is linear
in its input spikes, so one conv of the whole spike train (steps x batch) gives every
step's current; the IF dynamics then run step by step, elementwise. This computes
exactly what a step-by-step simulation of the whole network computes. Convs are exact
float32 (``_common.IntegerOp``); potentials are float32 where every value they can reach
is below 2^24 (bounded from the weights), else float64.

CAT activation: clip + uniform quantization to T levels (QCFS, Bu et al. ICLR 2022):
floor(x T / theta + 0.5) theta / T clipped to [0, theta], straight-through gradient of
the clipped identity. Standard conversion: data-based threshold balancing (percentile).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dse.api.coding import FixedPointCoding
from dse.api.errors import require

if TYPE_CHECKING:
    import torch
    from torch import nn

    from dse.api.network import SimulatedBatch, SpikingNetwork
    from dse.builtin.codings._common import IntegerOp


def qcfs_quantize(x: torch.Tensor, threshold: float, time_window: int) -> torch.Tensor:
    """floor(x T / theta + 0.5) * theta / T, clipped to [0, theta]."""
    import torch

    T = time_window
    return torch.clamp(torch.floor(x * (T / threshold) + 0.5), 0, T) * (threshold / T)


class RateCoding(FixedPointCoding):
    """Rate coding: integrate-and-fire neurons (reset by subtraction) over T time steps.

    See the module docstring for the neuron, the fixed point, the input encodings and
    the pooling mechanisms.
    """

    input_encodings = ("analog", "poisson", "deterministic")

    def __init__(
        self,
        time_window: int = 32,
        threshold: float = 1.0,
        accumulator_bits: int = 32,
        frac_bits: int = 16,
        input_encoding: str = "analog",
        initial_potential: float = 0.5,
        percentile: float = 99.9,
        calibration_samples: int = 512,
        power_of_two_scales: bool = False,
        seed: int = 0,
    ) -> None:
        super().__init__(
            time_window=time_window,
            threshold=threshold,
            accumulator_bits=accumulator_bits,
            frac_bits=frac_bits,
            input_encoding=input_encoding,
            percentile=percentile,
            calibration_samples=calibration_samples,
            power_of_two_scales=power_of_two_scales,
        )
        require(
            0 <= initial_potential < 1,
            "coding.initial_potential",
            "must be in [0, 1) (fraction of the threshold)",
            initial_potential,
        )
        self.initial_potential = float(initial_potential)
        self.seed = int(seed)

    def spike_values(self, x: torch.Tensor) -> torch.Tensor:
        """QCFS: T uniform levels (module docstring)."""
        return qcfs_quantize(x, self.threshold, self.time_window)

    def input_encoder(self) -> nn.Module:
        """What the first layer sees on average (8-bit pixels), for CAT networks."""
        from dse.api.network import AnalogPixels

        return AnalogPixels()

    def prepare(self, snn: SpikingNetwork) -> tuple[list[_Neurons | None], torch.Generator]:
        """Per weighted layer how it computes, and the generator of Poisson inputs (seeded
        per ``simulate`` call)."""
        import torch

        return self._plans(snn, self.time_window), torch.Generator().manual_seed(self.seed)

    def run_batch(
        self,
        snn: SpikingNetwork,
        x: torch.Tensor,
        prepared: tuple[list[_Neurons | None], torch.Generator],
    ) -> SimulatedBatch:
        from dse.api.network import SimulatedBatch

        plans, generator = prepared
        out = self._run(snn, x, plans, self.time_window, generator)
        return SimulatedBatch(out["potential"].argmax(1), out["activity"])

    def run(
        self,
        snn: SpikingNetwork,
        x: torch.Tensor,
        *,
        time_window: int | None = None,
        generator: torch.Generator | None = None,
    ) -> dict[str, Any]:
        """Simulate one batch of pixels in [0, 1] for T steps (default: the coding's T).

        Returns ``counts`` (per architecture layer: spikes per neuron over the T steps;
        None for Flatten and the read-out), ``potential`` (the read-out's accumulated
        potential, integer units of theta * 2^-frac_bits) and ``activity`` ((layers, N, 4):
        input_spikes, output_spikes, synops, time_steps per workload layer).
        """
        import torch

        T = self.time_window if time_window is None else int(time_window)
        with torch.no_grad():
            return self._run(snn, x, self._plans(snn, T), T, generator)

    def _plans(self, snn: SpikingNetwork, T: int) -> list[_Neurons | None]:
        """Per weighted layer: its exact integer op, bias and potential dtype (from the
        weights, bounding every value the T-step simulation can reach); None for others."""
        import torch

        from dse.api.architecture import AvgPool2d, Conv2d
        from dse.api.network import FLOAT32_EXACT_BITS, PIXEL_FRAC_BITS
        from dse.builtin.codings._common import IntegerOp

        one = 2.0**self.frac_bits  # theta in accumulator LSBs
        top = 2.0 ** (self._accumulator_bits - 1)
        layers = snn.layers
        weighted = [i for i, p in enumerate(layers) if p.weight is not None]
        plans: list[_Neurons | None] = []
        divisor = 1.0  # avg-pool window sizes since the last weighted layer
        for i, p in enumerate(layers):
            if isinstance(p.spec, AvgPool2d):
                divisor *= p.spec.kernel**2
            if p.weight is None:
                plans.append(None)
                continue
            bias = torch.round(p.bias * one)
            if isinstance(p.spec, Conv2d):
                bias = bias.reshape(1, -1, 1, 1)
            analog = i == weighted[0] and self.input_encoding == "analog"
            wide = None
            # bound on |current + bias| per step; the op adds the bias unless a division
            # by the avg-pool window comes first
            if analog:
                # constant current: the MAC of the 8-bit pixels, truncated to the LSB
                w0 = p.weight * 2.0 ** (self.frac_bits - PIXEL_FRAC_BITS)
                op = IntegerOp(p, w0, 2.0**PIXEL_FRAC_BITS, bias=bias)
                per_step = op.bound
                if not torch.equal(w0, torch.round(w0)):  # products not integers: float64 MAC
                    # |trunc(sum)| <= 2^8 sum|w0| (+1: the float64 sum's rounding, far below 1)
                    mac = 2.0**PIXEL_FRAC_BITS * w0.abs().reshape(w0.shape[0], -1).sum(1).max()
                    op, wide = None, w0
                    per_step = float(mac) + 1.0 + float(bias.abs().max())
            elif divisor == 1.0:  # input spikes (0/1)
                op = IntegerOp(p, torch.trunc(p.weight * one), 1.0, bias=bias)
                per_step = op.bound
            else:  # avg-pooled spike counts <= the windows' size
                op = IntegerOp(p, torch.trunc(p.weight * one), divisor)
                per_step = op.bound / divisor + float(bias.abs().max())
            # |V| grows by at most |current + bias| per step (a reset only lowers it).
            start = 0.0 if i == weighted[-1] else float(round(self.initial_potential * one))
            reach = start + T * per_step
            exact32 = reach < 2.0**FLOAT32_EXACT_BITS
            dtype = torch.float32 if exact32 else torch.float64
            plans.append(_Neurons(op, wide, bias.to(dtype), divisor, dtype, not reach < top))
            divisor = 1.0
        return plans

    def _run(
        self,
        snn: SpikingNetwork,
        x: torch.Tensor,
        plans: list[_Neurons | None],
        T: int,
        generator: torch.Generator | None,
    ) -> dict[str, Any]:
        """Layer by layer over a chunk of time steps: each layer integrates all steps of
        the chunk (its IF dynamics are sequential in t, elementwise), and its spike train
        reaches the next layer's conv as one (steps x samples) batch. Every step computes
        exactly what a step-by-step simulation computes; chunks bound the memory."""
        import torch
        import torch.nn.functional as F

        from dse.api.architecture import AvgPool2d, Conv2d, Flatten, Linear, MaxPool2d
        from dse.api.network import (
            PIXEL_FRAC_BITS,
            count_sum,
            layer_op,
            pool_events,
            synaptic_events,
        )

        frac = self.frac_bits
        one = 2.0**frac  # theta in accumulator LSBs
        top = 2.0 ** (self._accumulator_bits - 1)
        n = x.shape[0]
        pixels = torch.round(x.to(torch.float64) * 2.0**PIXEL_FRAC_BITS)  # 8-bit fixed point
        full = 2.0**PIXEL_FRAC_BITS
        layers = snn.layers
        last = len(layers) - 1
        # Work on slices of the batch, over chunks of steps, sized so each layer's spike
        # train stays within _CHUNK_ELEMENTS: small tensors are reused from the heap and
        # stay in cache; larger ones cost page faults on every allocation (measured).
        shapes = snn.architecture.shapes()
        largest = max(math.prod(s) for pair in shapes for s in pair)
        width = min(n, max(_MIN_SLICE, _CHUNK_ELEMENTS // (T * largest)))
        chunk = max(1, min(T, _CHUNK_ELEMENTS // (width * largest)))
        chunk = max(1, min(chunk, _CHUNK_ELEMENTS // max(n * math.prod(shapes[0][0]), 1)))

        analog_current = None  # the first layer's constant current + bias (analog input)
        first = next(i for i, p in enumerate(layers) if p.weight is not None)
        if self.input_encoding == "analog":
            plan0 = plans[first]
            assert plan0 is not None
            if plan0.op is not None:  # exact integers (bias included): truncation is a no-op
                analog_current = plan0.op(pixels).to(plan0.dtype)
            else:
                current = torch.trunc(layer_op(layers[first].spec, pixels, plan0.wide))
                analog_current = (current + plan0.bias).to(plan0.dtype)
            if analog_current.dim() == 4:  # the layout the next exact conv wants
                analog_current = analog_current.contiguous(memory_format=torch.channels_last)
        enc_v = torch.full_like(pixels, 0.5 * full)

        rows = sum(1 for p in layers if not isinstance(p.spec, Flatten))
        act = torch.zeros(rows, n, 4, dtype=torch.float64)
        act[:, :, 3] = T
        states: dict[int, dict[int, torch.Tensor]] = {}  # per slice: potentials, pool counts
        counts: list[torch.Tensor | None] = [None] * len(layers)  # per neuron, float32
        seen: dict[int, tuple[torch.Tensor, Any]] = {}  # input spikes per neuron, all steps
        for t0 in range(0, T, chunk):
            steps = min(chunk, T - t0)
            # input spikes of these steps for the whole batch, drawn in step order:
            # (steps, N, C, H, W)
            if self.input_encoding == "analog":
                s_in = pixels.clamp(max=1.0).to(torch.float32).expand(steps, *pixels.shape)
            elif self.input_encoding == "poisson":
                prob = pixels / full
                draws = [  # one draw per step, in step order: the generator's sequence
                    torch.rand(prob.shape, generator=generator, dtype=torch.float64) < prob
                    for _ in range(steps)
                ]
                s_in = torch.stack(draws).to(torch.float32)
            else:
                spikes = []
                for _ in range(steps):  # integrate-and-fire encoder, threshold 1, start 1/2
                    enc_v = enc_v + pixels
                    fired = enc_v >= full
                    enc_v = enc_v - fired * full
                    spikes.append(fired)
                s_in = torch.stack(spikes).to(torch.float32)
            for lo in range(0, n, width):
                hi = min(n, lo + width)
                state = states.setdefault(lo, {})
                s = s_in[:, lo:hi]
                m = hi - lo
                row = 0
                # Spike trains are float32 (bool -> float conversions cost more than the
                # arithmetic); counts per neuron stay small integers, exact in float32.
                binary = True  # spikes are 0/1 until an avg pool sums windows
                fired = s.sum(0)  # spiking steps per input neuron
                for i, p in enumerate(layers):
                    spec = p.spec
                    if isinstance(spec, Flatten):
                        s, fired = s.reshape(steps, m, -1), fired.reshape(m, -1)
                        continue
                    # synaptic events are linear in the input spikes: count them at the end
                    if row not in seen:
                        seen[row] = (torch.zeros((n, *fired.shape[1:])), p)
                    seen[row][0][lo:hi] += fired
                    if isinstance(spec, MaxPool2d):
                        s = _gate(s, spec, state, i, binary=binary)
                    elif isinstance(spec, AvgPool2d):  # window spike counts (exact sums)
                        flat = s.flatten(0, 1)
                        pooled = F.avg_pool2d(flat, spec.kernel, spec.stride, divisor_override=1)
                        s, binary = pooled.view(steps, m, *pooled.shape[1:]), False
                    else:
                        assert isinstance(spec, (Conv2d, Linear)), spec
                        plan = plans[i]
                        assert plan is not None
                        const = None
                        if i == first and analog_current is not None:
                            const = analog_current[lo:hi]
                        out = self._neurons(p, plan, s, i, state, const, one, top, last)
                        if out is None:  # the read-out: no spikes
                            row += 1
                            continue
                        s, binary = out, True
                    spikes = s.sum(0)  # per neuron, these steps
                    fired = spikes if binary else s.clamp(max=1.0).sum(0)
                    act[row, lo:hi, 1] += count_sum(fired.reshape(m, -1), 1)
                    if counts[i] is None:
                        counts[i] = torch.zeros((n, *spikes.shape[1:]))
                    counts[i][lo:hi] += spikes
                    row += 1
        for row, (total, p) in seen.items():
            act[row, :, 0] = count_sum(total.reshape(n, -1), 1)
            if isinstance(p.spec, (MaxPool2d, AvgPool2d)):
                act[row, :, 2] = pool_events(p.spec, total)
            else:
                act[row, :, 2] = synaptic_events(p, total)
        out_counts = [c.to(torch.float64) if c is not None else None for c in counts]
        potential = torch.cat([states[lo][last] for lo in sorted(states)]).to(torch.float64)
        return {"counts": out_counts, "potential": potential, "activity": act}

    def _neurons(
        self,
        p: Any,
        plan: _Neurons,
        s: torch.Tensor,
        i: int,
        state: dict[int, torch.Tensor],
        analog_current: torch.Tensor | None,
        one: float,
        top: float,
        last: int,
    ) -> torch.Tensor | None:
        """One weighted layer over a chunk of steps: its output spike train (0/1), or
        None for the read-out, which only accumulates."""
        import torch

        steps, n = s.shape[0], s.shape[1]
        if analog_current is not None:
            currents = None  # the same current every step
        else:
            current = plan.op(s.flatten(0, 1))  # one conv for all steps: it is linear
            if plan.divisor != 1.0:  # avg pooling: divide the window sum, truncating
                current = torch.trunc(current.to(torch.float64) / plan.divisor) + plan.bias
            currents = current.to(plan.dtype)  # (the op added the bias otherwise)
            currents = currents.view(steps, n, *currents.shape[1:])
        like = analog_current if currents is None else currents[0]
        v = state.get(i)
        if v is None:
            start = 0.0 if i == last else round(self.initial_potential * one)
            v = torch.full_like(like, start, dtype=plan.dtype)
        out = None if i == last else _buffer(like, steps)
        for t in range(steps):
            v.add_(analog_current if currents is None else currents[t])
            if plan.clamp:  # saturating accumulator (skipped where it cannot saturate)
                v.clamp_(-top, top - 1)
            if out is not None:  # fire, reset by subtraction
                torch.ge(v, one, out=out[t])
                v.sub_(out[t], alpha=one)
        state[i] = v
        return out


def _buffer(like: torch.Tensor, steps: int) -> torch.Tensor:
    """Empty (steps, *like.shape) float32 spike train, each step laid out like ``like``."""
    import torch

    layout = torch.contiguous_format
    if like.dim() == 4 and like.is_contiguous(memory_format=torch.channels_last):
        layout = torch.channels_last
    shape = (steps * like.shape[0], *like.shape[1:])
    return torch.empty(shape, dtype=torch.float32, memory_format=layout).view(steps, *like.shape)


def _gate(
    s: torch.Tensor, spec: Any, state: dict[int, torch.Tensor], i: int, *, binary: bool
) -> torch.Tensor:
    """Max pooling by spike-count gating over a chunk of steps: at each step a window
    passes on the spike of its input with the most spikes so far (ties: the one spiking
    now, then the first). Key = 2 x count so far + spike now."""
    import torch
    import torch.nn.functional as F

    steps, n = s.shape[0], s.shape[1]
    c = state.get(i)
    if c is None:
        c = torch.zeros_like(s[0], dtype=torch.float32)  # laid out like the spikes
    key = torch.empty_like(s, dtype=torch.float32)
    for t in range(steps):
        c.add_(s[t])
        torch.add(s[t], c, alpha=2, out=key[t])
    state[i] = c
    flat = key.flatten(0, 1)
    if binary:
        # 2 (c_before + s) + s is odd exactly when the input spikes now, and every input
        # holding the window's maximum has the same key: the pooled spike is max mod 2
        out = torch.remainder(F.max_pool2d(flat, spec.kernel, spec.stride), 2)
    else:
        _, idx = F.max_pool2d(flat.contiguous(), spec.kernel, spec.stride, return_indices=True)
        values = s.flatten(0, 1).to(torch.float32).contiguous().flatten(2)
        out = values.gather(2, idx.flatten(2)).view(idx.shape)
    return out.view(steps, n, *out.shape[1:])


# Samples x steps batched into one conv: at most this many elements per layer tensor
# (2^21 float32 = 8 MiB). On 2 cores, small_cnn on digits, T = 8: 2^21 -> ~7,300 images/s,
# 2^25 -> ~5,000 (page faults of large fresh tensors; cache misses).
_CHUNK_ELEMENTS = 2**21
# Fewest samples per slice (long time windows then take fewer steps per chunk).
_MIN_SLICE = 64


@dataclass
class _Neurons:
    """How one weighted layer computes, prepared once from its weights."""

    op: IntegerOp | None  # exact integer conv / linear of its input
    wide: torch.Tensor | None  # float64 weights of an analog MAC with non-integer products
    bias: torch.Tensor  # in LSBs, in the potential's dtype
    divisor: float  # avg-pool windows since the previous weighted layer (input <= divisor)
    dtype: torch.dtype  # potential dtype: float32 where every reachable value is exact
    clamp: bool  # False when no reachable value can saturate
