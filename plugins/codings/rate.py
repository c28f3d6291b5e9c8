"""Rate coding: integrate-and-fire neurons, reset by subtraction, simulated step by step.

Definitions (docs: DESIGN.md section 4):

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

from dse.errors import require
from dse.interfaces import SimulationResult, SpikeCoding, Split, TrainedNetwork, WeightQuantizer

if TYPE_CHECKING:
    import torch
    from torch import nn

    from plugins.codings._common import IntegerOp, SpikingNetwork

_INPUT_ENCODINGS = ("analog", "poisson", "deterministic")


def qcfs_quantize(x: torch.Tensor, threshold: float, time_window: int) -> torch.Tensor:
    """floor(x T / theta + 0.5) * theta / T, clipped to [0, theta]."""
    import torch

    T = time_window
    return torch.clamp(torch.floor(x * (T / threshold) + 0.5), 0, T) * (threshold / T)


def _activation_module(threshold: float, time_window: int) -> nn.Module:
    import torch
    from torch import nn

    class QCFSActivation(nn.Module):
        """Forward: QCFS quantization to T levels; backward: 1 for 0 < x < theta, else 0."""

        def __init__(self) -> None:
            super().__init__()
            self.threshold = threshold
            self.time_window = time_window

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            q = qcfs_quantize(x.detach(), self.threshold, self.time_window)
            if not (torch.is_grad_enabled() and x.requires_grad):
                return q
            xc = torch.clamp(x, 0.0, self.threshold)
            return xc + (q - xc).detach()

        def extra_repr(self) -> str:
            return f"threshold={self.threshold}, time_window={self.time_window}"

    return QCFSActivation()


class RateCoding(SpikeCoding):
    """Rate coding: integrate-and-fire neurons (reset by subtraction) over T time steps.

    See the module docstring for the neuron, the fixed point, the input encodings and
    the pooling mechanisms.
    """

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
        require(time_window >= 1, "coding.time_window", "must be >= 1", time_window)
        require(threshold > 0, "coding.threshold", "must be > 0", threshold)
        require(frac_bits >= 0, "coding.frac_bits", "must be >= 0", frac_bits)
        require(
            accumulator_bits >= frac_bits + 2,
            "coding.accumulator_bits",
            f"must be >= frac_bits + 2 = {frac_bits + 2} (sign bit + the threshold itself)",
            accumulator_bits,
        )
        # Integers stay exact in float64 below 2^53 (the simulation's widest type).
        require(
            accumulator_bits <= 52, "coding.accumulator_bits", "must be <= 52", accumulator_bits
        )
        require(
            input_encoding in _INPUT_ENCODINGS,
            "coding.input_encoding",
            f"must be one of {_INPUT_ENCODINGS}",
            input_encoding,
        )
        require(
            0 <= initial_potential < 1,
            "coding.initial_potential",
            "must be in [0, 1) (fraction of the threshold)",
            initial_potential,
        )
        require(0 < percentile <= 100, "coding.percentile", "must be in (0, 100]", percentile)
        require(
            calibration_samples >= 1,
            "coding.calibration_samples",
            "must be >= 1",
            calibration_samples,
        )
        self.time_window = int(time_window)
        self.threshold = float(threshold)
        self._accumulator_bits = int(accumulator_bits)
        self.frac_bits = int(frac_bits)
        self.input_encoding = input_encoding
        self.initial_potential = float(initial_potential)
        self.percentile = float(percentile)
        self.calibration_samples = int(calibration_samples)
        self.power_of_two_scales = bool(power_of_two_scales)
        self.seed = int(seed)

    @property
    def accumulator_bits(self) -> int:
        return self._accumulator_bits

    def activation(self) -> nn.Module:
        return _activation_module(self.threshold, self.time_window)

    def input_encoder(self) -> nn.Module:
        """What the first layer sees on average (8-bit pixels), for CAT networks."""
        from plugins.codings._common import AnalogPixels

        return AnalogPixels()

    def convert(
        self, ann: TrainedNetwork, quantizer: WeightQuantizer, calibration: Split
    ) -> SpikingNetwork:
        from plugins.codings._common import SpikingNetwork, convert_layers

        layers, info = convert_layers(
            ann,
            quantizer,
            calibration,
            threshold=self.threshold,
            percentile=self.percentile,
            calibration_samples=self.calibration_samples,
            power_of_two_scales=self.power_of_two_scales,
        )
        return SpikingNetwork(ann.architecture, layers, self.time_window, info)

    def simulate(
        self, snn: SpikingNetwork, split: Split, batch_size: int = 1024
    ) -> SimulationResult:
        import numpy as np
        import torch

        from dse.data import batches
        from dse.interfaces import LayerActivity

        generator = torch.Generator().manual_seed(self.seed)
        preds, totals = [], None
        with torch.no_grad():
            plans = self._plans(snn, self.time_window)  # from the weights: once, not per batch
            for x, _ in batches(split, batch_size):
                out = self._run(snn, x, plans, self.time_window, generator)
                preds.append(out["potential"].argmax(1))
                sums = out["activity"].sum(1)
                totals = sums if totals is None else totals + sums
        n = max(len(split), 1)
        predictions = torch.cat(preds).numpy() if preds else np.zeros(0, dtype=np.int64)
        accuracy = 100.0 * float((torch.as_tensor(predictions) == split.y).float().mean())
        activity = []
        if totals is not None:
            for row in (totals / n).tolist():
                activity.append(LayerActivity(row[0], row[1], row[2], row[3]))
        return SimulationResult(accuracy, predictions, activity)

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

        from dse.architecture import AvgPool2d, Conv2d
        from plugins.codings._common import FLOAT32_EXACT_BITS, PIXEL_FRAC_BITS, IntegerOp

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
            if analog:
                # constant current: the MAC of the 8-bit pixels, truncated to the LSB
                w0 = p.weight * 2.0 ** (self.frac_bits - PIXEL_FRAC_BITS)
                op = IntegerOp(p, w0, 2.0**PIXEL_FRAC_BITS)
                if not torch.equal(w0, torch.round(w0)):  # products not integers: float64 MAC
                    op, wide = None, w0
                current = op.bound if op is not None else float("inf")
            else:  # input spikes, or avg-pooled spike counts <= the windows' size
                op = IntegerOp(p, torch.trunc(p.weight * one), divisor)
                current = op.bound / divisor
            # |V| grows by at most |current + bias| per step (a reset only lowers it).
            start = 0.0 if i == weighted[-1] else float(round(self.initial_potential * one))
            reach = start + T * (current + float(bias.abs().max()))
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
        reaches the next layer's conv as one (steps x batch) batch. Every step computes
        exactly what a step-by-step simulation computes; chunks bound the memory."""
        import torch
        import torch.nn.functional as F

        from dse.architecture import AvgPool2d, Conv2d, Flatten, Linear, MaxPool2d
        from plugins.codings._common import (
            PIXEL_FRAC_BITS,
            pool_events,
            synaptic_events,
            weighted_op,
        )

        frac = self.frac_bits
        one = 2.0**frac  # theta in accumulator LSBs
        top = 2.0 ** (self._accumulator_bits - 1)
        n = x.shape[0]
        pixels = torch.round(x.to(torch.float64) * 2.0**PIXEL_FRAC_BITS)  # 8-bit fixed point
        full = 2.0**PIXEL_FRAC_BITS
        layers = snn.layers
        last = len(layers) - 1
        largest = max(math.prod(s) for shapes in snn.architecture.shapes() for s in shapes)
        chunk = max(1, min(T, _CHUNK_ELEMENTS // max(n * largest, 1)))

        analog_current = None  # the first layer's constant current + bias (analog input)
        first = next(i for i, p in enumerate(layers) if p.weight is not None)
        if self.input_encoding == "analog":
            plan0 = plans[first]
            assert plan0 is not None
            if plan0.op is not None:
                current = plan0.op(pixels)  # exact integers: truncation is a no-op
            else:
                current = torch.trunc(weighted_op(layers[first], pixels, plan0.wide))
            analog_current = (current + plan0.bias).to(plan0.dtype)
        enc_v = torch.full_like(pixels, 0.5 * full)

        rows = sum(1 for p in layers if not isinstance(p.spec, Flatten))
        act = torch.zeros(rows, n, 4, dtype=torch.float64)
        act[:, :, 3] = T
        state: dict[int, torch.Tensor] = {}  # membrane potentials / pool spike counts
        counts: list[torch.Tensor | None] = [None] * len(layers)
        seen: dict[int, tuple[torch.Tensor, Any]] = {}  # input spikes per neuron, all steps
        for t0 in range(0, T, chunk):
            steps = min(chunk, T - t0)
            # input spikes of these steps: (steps, N, C, H, W)
            if self.input_encoding == "analog":
                s = (pixels > 0).to(torch.float32).expand(steps, *pixels.shape)
            elif self.input_encoding == "poisson":
                prob = pixels / full
                draws = [  # one draw per step, in step order: the generator's sequence
                    torch.rand(prob.shape, generator=generator, dtype=torch.float64) < prob
                    for _ in range(steps)
                ]
                s = torch.stack(draws).to(torch.float32)
            else:
                spikes = []
                for _ in range(steps):  # integrate-and-fire encoder, threshold 1, start 1/2
                    enc_v = enc_v + pixels
                    fired = enc_v >= full
                    enc_v = enc_v - fired * full
                    spikes.append(fired)
                s = torch.stack(spikes).to(torch.float32)
            row = 0
            for i, p in enumerate(layers):
                spec = p.spec
                if isinstance(spec, Flatten):
                    s = s.reshape(steps, n, -1)
                    continue
                # synaptic events are linear in the input spikes: count them once, at the end
                total = (s > 0).sum(0, dtype=torch.float32)
                seen[row] = (seen[row][0] + total, p) if row in seen else (total, p)
                if isinstance(spec, MaxPool2d):
                    # spike-count gating: the window's input with most spikes so far (ties:
                    # the one spiking now, then the first) passes its spike on
                    c = torch.cumsum(s, 0) + state.get(i, 0.0)
                    state[i] = c[-1]
                    key = (c * 2 + s).flatten(0, 1).contiguous()
                    _, idx = F.max_pool2d(key, spec.kernel, spec.stride, return_indices=True)
                    flat = s.flatten(0, 1).contiguous().flatten(2)
                    s = flat.gather(2, idx.flatten(2)).view(steps, n, *idx.shape[1:])
                elif isinstance(spec, AvgPool2d):  # window spike counts (exact sums)
                    pooled = F.avg_pool2d(
                        s.flatten(0, 1), spec.kernel, spec.stride, divisor_override=1
                    )
                    s = pooled.view(steps, n, *pooled.shape[1:])
                else:
                    assert isinstance(spec, (Conv2d, Linear)), spec
                    plan = plans[i]
                    assert plan is not None
                    constant = analog_current if i == first else None
                    s = self._neurons(p, plan, s, i, state, constant, one, top, last)
                    if s is None:  # the read-out: no spikes
                        row += 1
                        continue
                act[row, :, 1] += (s > 0).sum(_but_batch(s), dtype=torch.float64)
                c_sum = s.sum(0)
                counts[i] = c_sum if counts[i] is None else counts[i] + c_sum
                row += 1
        for row, (total, p) in seen.items():
            act[row, :, 0] = total.reshape(n, -1).sum(1, dtype=torch.float64)
            if isinstance(p.spec, (MaxPool2d, AvgPool2d)):
                act[row, :, 2] = pool_events(p.spec, total)
            else:
                act[row, :, 2] = synaptic_events(p, total)
        out_counts = [c.to(torch.float64) if c is not None else None for c in counts]
        potential = state[last].to(torch.float64)
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
        """One weighted layer over a chunk of steps: its output spike train (float32), or
        None for the read-out, which only accumulates."""
        import torch

        steps, n = s.shape[0], s.shape[1]
        if analog_current is not None:
            currents = None  # the same current every step
        else:
            current = plan.op(s.flatten(0, 1))  # one conv for all steps: it is linear
            if plan.divisor != 1.0:  # avg pooling: divide the window sum, truncating
                current = torch.trunc(current.to(torch.float64) / plan.divisor)
            currents = (current + plan.bias).to(plan.dtype)
            currents = currents.view(steps, n, *currents.shape[1:])
        like = analog_current if currents is None else currents[0]
        v = state.get(i)
        if v is None:
            start = 0.0 if i == last else round(self.initial_potential * one)
            v = torch.full_like(like, start, dtype=plan.dtype)
        out = None if i == last else torch.empty((steps, *like.shape), dtype=torch.float32)
        for t in range(steps):
            v.add_(analog_current if currents is None else currents[t])
            if plan.clamp:  # saturating accumulator (skipped where it cannot saturate)
                v.clamp_(-top, top - 1)
            if out is not None:  # fire, reset by subtraction
                torch.ge(v, one, out=out[t])
                v.sub_(out[t], alpha=one)
        state[i] = v
        return out


# Steps whose spike train is batched into one conv: at most this many elements per
# layer tensor (2^25 float32 = 128 MiB), so memory stays bounded for long time windows.
_CHUNK_ELEMENTS = 2**25


@dataclass
class _Neurons:
    """How one weighted layer computes, prepared once from its weights."""

    op: IntegerOp | None  # exact integer conv / linear of its input
    wide: torch.Tensor | None  # float64 weights of an analog MAC with non-integer products
    bias: torch.Tensor  # in LSBs, in the potential's dtype
    divisor: float  # avg-pool windows since the previous weighted layer (input <= divisor)
    dtype: torch.dtype  # potential dtype: float32 where every reachable value is exact
    clamp: bool  # False when no reachable value can saturate


def _but_batch(s: torch.Tensor) -> tuple[int, ...]:
    """All dims of a (steps, N, ...) tensor except the batch dim."""
    return (0, *range(2, s.dim()))
