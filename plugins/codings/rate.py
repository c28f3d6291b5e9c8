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

CAT activation: clip + uniform quantization to T levels (QCFS, Bu et al. ICLR 2022):
floor(x T / theta + 0.5) theta / T clipped to [0, theta], straight-through gradient of
the clipped identity. Standard conversion: data-based threshold balancing (percentile).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dse.errors import require
from dse.interfaces import SimulationResult, SpikeCoding, Split, TrainedNetwork, WeightQuantizer

if TYPE_CHECKING:
    import torch
    from torch import nn

    from plugins.codings._common import SpikingNetwork

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
            for x, _ in batches(split, batch_size):
                out = self.run(snn, x, generator=generator)
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
        import torch.nn.functional as F

        from dse.architecture import AvgPool2d, Conv2d, Flatten, Linear, MaxPool2d
        from plugins.codings._common import (
            PIXEL_FRAC_BITS,
            exact_dtype,
            pool_events,
            synaptic_events,
            weighted_op,
        )

        T = self.time_window if time_window is None else int(time_window)
        frac = self.frac_bits
        one = 2.0**frac  # theta in accumulator LSBs
        top = 2.0 ** (self._accumulator_bits - 1)
        n = x.shape[0]
        pixels = torch.round(x.to(torch.float64) * 2.0**PIXEL_FRAC_BITS)  # 8-bit fixed point
        layers = snn.layers
        last = len(layers) - 1

        # Per weighted layer: integer weights, bias, compute dtype.
        weights: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        bounds: dict[int, float] = {}  # largest |weighted sum| of binary inputs, in LSBs
        for i, p in enumerate(layers):
            if p.weight is None:
                continue
            w_int = torch.trunc(p.weight * one)
            bias = torch.round(p.bias * one)
            if isinstance(p.spec, Conv2d):
                bias = bias.reshape(1, -1, 1, 1)
            weights[i] = (w_int, bias)
            bounds[i] = float(w_int.abs().reshape(w_int.shape[0], -1).sum(1).max())
        first = min(weights)
        p0 = layers[first]
        analog_current = None
        if self.input_encoding == "analog":
            # constant current: the MAC of the 8-bit pixels, truncated to the accumulator LSB
            w0 = p0.weight * 2.0 ** (frac - PIXEL_FRAC_BITS)
            analog_current = torch.trunc(weighted_op(p0, pixels, w0))
            enc_v = None
        else:
            enc_v = torch.full_like(pixels, 0.5 * 2.0**PIXEL_FRAC_BITS)

        state: dict[int, torch.Tensor] = {}  # membrane potentials / pool counts / read-out
        counts: list[torch.Tensor | None] = [None] * len(layers)
        act = torch.zeros(
            sum(1 for p in layers if not isinstance(p.spec, Flatten)), n, 4, dtype=torch.float64
        )
        act[:, :, 3] = T
        pixel_active = (pixels > 0).to(torch.float64)
        seen: dict[int, tuple[torch.Tensor, Any]] = {}  # input indicator summed over steps
        for _ in range(T):
            # input spikes of this step
            if self.input_encoding == "analog":
                s = pixel_active
            elif self.input_encoding == "poisson":
                prob = pixels / 2.0**PIXEL_FRAC_BITS
                s = (torch.rand(prob.shape, generator=generator, dtype=torch.float64) < prob).to(
                    torch.float64
                )
            else:
                assert enc_v is not None
                enc_v = enc_v + pixels
                s = (enc_v >= 2.0**PIXEL_FRAC_BITS).to(torch.float64)
                enc_v = enc_v - s * 2.0**PIXEL_FRAC_BITS
            divisor = 1.0
            row = 0
            for i, p in enumerate(layers):
                spec = p.spec
                if isinstance(spec, Flatten):
                    s = s.reshape(n, -1)
                    continue
                # synaptic events are linear in the input indicator: count them once, at the end
                active = (s > 0).to(torch.float32)
                seen[row] = (seen[row][0] + active, p) if row in seen else (active, p)
                if isinstance(spec, MaxPool2d):
                    c = state.get(i, torch.zeros_like(s)) + s
                    state[i] = c
                    _, idx = F.max_pool2d(c * 2 + s, spec.kernel, spec.stride, return_indices=True)
                    s = s.flatten(2).gather(2, idx.flatten(2)).view(idx.shape)
                    act[row, :, 1] += (s > 0).reshape(n, -1).sum(1)
                    counts[i] = counts[i] + s if counts[i] is not None else s.clone()
                    row += 1
                    continue
                if isinstance(spec, AvgPool2d):
                    s = F.avg_pool2d(s, spec.kernel, spec.stride) * spec.kernel**2
                    divisor *= spec.kernel**2
                    act[row, :, 1] += (s > 0).reshape(n, -1).sum(1)
                    counts[i] = counts[i] + s if counts[i] is not None else s.clone()
                    row += 1
                    continue
                assert isinstance(spec, (Conv2d, Linear)), spec
                w_int, bias = weights[i]
                if i == first and analog_current is not None:
                    current = analog_current
                else:
                    dtype = exact_dtype(bounds[i] * divisor)  # s <= divisor (window size)
                    current = weighted_op(p, s.to(dtype), w_int.to(dtype)).to(torch.float64)
                    if divisor != 1.0:
                        current = torch.trunc(current / divisor)
                divisor = 1.0
                if i == last:
                    v = state.get(i, torch.zeros_like(current))
                    state[i] = torch.clamp(v + current + bias, -top, top - 1)
                    row += 1
                    continue
                v = state.get(i)
                if v is None:
                    v = torch.full_like(current, round(self.initial_potential * one))
                v = torch.clamp(v + current + bias, -top, top - 1)
                s = (v >= one).to(torch.float64)
                state[i] = v - s * one
                act[row, :, 1] += s.reshape(n, -1).sum(1)
                counts[i] = counts[i] + s if counts[i] is not None else s.clone()
                row += 1
        for row, (total, p) in seen.items():
            act[row, :, 0] = total.reshape(n, -1).sum(1).to(torch.float64)
            if isinstance(p.spec, (MaxPool2d, AvgPool2d)):
                act[row, :, 2] = pool_events(p.spec, total).to(torch.float64)
            else:
                act[row, :, 2] = synaptic_events(p, total).to(torch.float64)
        return {"counts": counts, "potential": state[last], "activity": act}
