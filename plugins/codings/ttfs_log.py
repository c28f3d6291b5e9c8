"""Time-to-first-spike coding with logarithmic computation (Lew, Lee, Park, DAC 2022).

Definitions (the paper's coding as this project defines it; contract: docs/PLUGINS.md):

* Values: {0} U {theta * 2^-t : t = 0..T-1}. A neuron integrates every weighted input of
  its layer, then fires once, at the first t with V >= theta * 2^-t (the threshold halves
  each step); no spike when V < theta * 2^-(T-1). Its value is floor-in-log2 quantization
  of V / theta, clipped at theta.
* Hardware arithmetic: an input spike at t through a log weight +-2^-k adds +-2^-(t+k):
  a shift. The accumulator is fixed point, ``accumulator_bits`` wide (two's complement)
  with ``frac_bits`` fractional bits, in units of theta (threshold = 2^frac_bits). Each
  synaptic product is truncated toward zero to the accumulator's LSB (a shifted-out
  one-hot is lost), and the accumulator saturates at +-2^(accumulator_bits-1): the
  partial sum saturates after each input time step's events (spikes arrive in time
  order; within one step the event order is unspecified, so the step's events are one
  addition). The bias, rounded to the LSB, is the accumulator's initial value.
  Non-log weights (uniform / float quantizers) work too: the product of spike value
  2^-t and weight w is w shifted right by t in fixed point, i.e. trunc(w * 2^(F-t)).
* Input layer (``input_encoding``): ``spikes`` encodes each pixel p in [0, 1] with the
  same code (p -> 2^-t, theta_in = 1); ``analog`` feeds the first layer the pixels as
  8-bit fixed point (a multiply-accumulate layer with a wide internal adder, its sum
  truncated to the accumulator LSB); its input spikes in the activity are the nonzero
  pixels.
* Max pooling = the earliest spike of the window (exact). Average pooling is refused.
* The last layer does not fire: the class is the argmax of its potential.
* Activity: time_steps = T for every layer: a layer receives input spikes over T steps
  and its fire phase sweeps the same T halving thresholds. What the fixed point lost is
  counted too (``SimulationResult.accumulator``, per inference): products that lost bits
  below the LSB (analog layer: MAC sums) and neurons whose potential saturated.
* CAT: ``accumulator(first)`` (``TTFSLogAccumulator``) gives CAT's weighted layers this
  arithmetic, so the trained ANN is the SNN bit for bit at any accumulator width.

Simulation is vectorised over the batch with integer-valued float tensors. When no
product can be truncated and no partial sum can saturate (checked per layer from the
weights), one convolution per layer gives the exact integer result; otherwise the layer
is integrated step by step as described above. Convolutions run in float32, exact while
every partial sum stays below 2^24, with the weights split into a few float32 parts when
the sums are larger (``_common.IntegerOp``); potentials are float32 when the weights
bound them below 2^24, else float64 (exact below 2^53).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dse.api.architecture import Conv2d
from dse.api.coding import FixedPointCoding
from dse.api.errors import ConfigError, require
from dse.api.interfaces import Accumulator

if TYPE_CHECKING:
    import torch
    from torch import nn

    from dse.api.architecture import Architecture, Linear
    from dse.api.network import SimulatedBatch, SpikingNetwork
    from dse.builtin.codings._common import IntegerOp

_INPUT_ENCODINGS = ("spikes", "analog")


def ttfs_log_quantize(x: torch.Tensor, threshold: float, time_window: int) -> torch.Tensor:
    """theta * 2^-t for the first t with x >= theta * 2^-t; 0 when x < theta * 2^-(T-1).

    For float32/float64 the power of two 2^floor(log2 r) is read off the float's exponent
    bits (four passes over the tensor instead of frexp + ldexp: this runs on every
    activation of every CAT training step); other dtypes take the frexp route.
    """
    import torch

    r = torch.clamp(x / threshold if threshold != 1.0 else x, max=1.0)
    fires = r >= 2.0 ** -(time_window - 1)  # False for NaN and for r below the last threshold
    view = _exponent_view(r.dtype)
    if view is not None:
        r.view(view[0]).bitwise_and_(view[1])  # r >= 2^-(T-1) is normal: r -> 2^floor(log2 r)
    else:
        _, e = torch.frexp(r)  # r in [2^(e-1), 2^e) for r > 0
        r = torch.ldexp(torch.ones_like(r), (e - 1).to(torch.int64))
    value = torch.where(fires, r, 0.0)
    return value * threshold if threshold != 1.0 else value


def _spike_encoder(time_window: int) -> nn.Module:
    from torch import nn

    class TTFSLogPixels(nn.Module):
        """Pixels p in [0, 1] as TTFS-log spikes: p -> 2^-t (theta_in = 1)."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return ttfs_log_quantize(x, 1.0, time_window)

    return TTFSLogPixels()


class TTFSLogAccumulator(Accumulator):
    """One weighted layer's fixed-point accumulator (module docstring), for CAT.

    The SNN works in units of theta: its weights are ``weight * unit / theta``, where
    ``unit`` is the value of an input spike at t = 0 (theta for a hidden layer, 1 for
    pixels; the first layer's weights are divided by theta at conversion), and its
    potential V (integer LSBs) is the ANN's pre-activation y = V * theta * 2^-frac_bits.

    Gradient: that of the float op x * w + b (straight-through), except in a spiking
    layer that can saturate, where it flows through the step-by-step dynamics: each
    step's sum straight-through its truncation, each saturation's clip exact. (With the
    float op's gradient alone, training at 9/7 bits drove hidden potentials into
    saturation: 79 % on digits instead of 97 %.)

    Cost: when the weights rule out both truncation (every product a whole number of
    LSBs) and saturation (sum |w| 2^frac_bits + |bias| below the range), the float op with
    the bias rounded to the LSB *is* the accumulator: one conv, as without this model.
    Otherwise the float op (it carries the gradient) plus, forward only: for an analog
    first layer elementwise truncation and saturation; for a spiking layer that cannot
    saturate, one conv per input time step whose products lose bits (the float sum minus
    what truncation drops: with log weights only the smallest levels at the latest
    steps); otherwise (non-dyadic weights truncate at every step) one conv per input time
    step. A spiking layer that can saturate costs, while training, one more conv that
    bounds this batch's partial sums (sums of its positive and of its negative products):
    inside the range, as above; else two convs per input time step (truncated sums, and
    float sums with their backward pass).
    """

    def __init__(
        self,
        *,
        time_window: int,
        threshold: float,
        accumulator_bits: int,
        frac_bits: int,
        inputs: str,
    ) -> None:
        require(
            inputs in ("hidden", *_INPUT_ENCODINGS),
            "inputs",
            f"must be hidden or one of {_INPUT_ENCODINGS}",
            inputs,
        )
        self.time_window = int(time_window)
        self.threshold = float(threshold)
        self.accumulator_bits = int(accumulator_bits)
        self.frac_bits = int(frac_bits)
        self.inputs = inputs  # hidden (spikes of theta * 2^-t), spikes (2^-t) or analog

    def __call__(
        self, spec: Conv2d | Linear, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor
    ) -> torch.Tensor:
        import torch

        from dse.api.network import PIXEL_FRAC_BITS

        T, F, theta = self.time_window, self.frac_bits, self.threshold
        lo, hi = -(2.0 ** (self.accumulator_bits - 1)), 2.0 ** (self.accumulator_bits - 1) - 1
        unit = theta if self.inputs == "hidden" else 1.0
        analog = self.inputs == "analog"
        scale = unit / theta  # ANN weight -> the SNN's weight (per input unit)
        b_int = torch.round(bias.detach() * (2.0**F / theta))  # stored rounded to the LSB
        b_snn = _straight_through(bias, b_int * (theta * 2.0**-F))  # gradient: the bias's
        # Largest |partial sum| any order of events can reach (every input value <= unit),
        # and whether a product can lose bits: pixels are k 2^-8 (whole for every k iff
        # w 2^(F-8) is), spikes 2^-t (t <= T-1). Few ops and one host sync: this runs in
        # every forward pass (on a GPU too).
        finest = weight.detach() * (scale * 2.0 ** (F - (PIXEL_FRAC_BITS if analog else T - 1)))
        dims = tuple(range(1, weight.dim()))
        row_sum, b_max, cut = torch.stack(
            [
                torch.linalg.vector_norm(weight.detach(), 1, dim=dims).max(),
                b_int.abs().max(),
                finest.frac().abs().max(),
            ]
        ).tolist()
        bound = row_sum * scale * 2.0**F + b_max
        saturates = bound > hi
        if not cut and not saturates:  # the float sum is the SNN's: no extra cost
            return _weighted(spec, x, weight, b_snn)
        w = weight.detach() * scale  # the SNN's weights
        first_cut = T  # first input time step whose products can lose bits (T: none)
        if cut and analog:
            first_cut = 0
        elif cut:  # w 2^(F-t) whole for t implies whole for every earlier t
            first_cut -= 1
            while first_cut > 0 and not _whole(w * 2.0 ** (F - first_cut + 1)):
                first_cut -= 1
        training = torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad)
        shape = (1, -1, 1, 1) if isinstance(spec, Conv2d) else (1, -1)
        if saturates and not analog and training:
            # This batch's inputs may keep every partial sum inside the range: the sums of
            # the positive and of the negative products bound them all (x >= 0; truncation
            # only shrinks products). Then the cheaper float-gradient model is exact.
            with torch.no_grad():
                o = weight.shape[0]
                wd = weight.detach()
                sums = _weighted(
                    spec, x.detach(), torch.cat([wd.clamp(min=0), wd.clamp(max=0)]), None
                )
                start = b_int.reshape(shape)
                reach = sums.narrow(1, 0, o) * (2.0**F / theta) + start
                low = sums.narrow(1, o, o) * (2.0**F / theta) + start
                top, bottom = torch.stack([reach.max(), low.min()]).tolist()
            if top > hi or bottom < lo:
                return self._through_steps(spec, x, weight, bias, unit)
            saturates = False  # not in this batch
        y = _weighted(spec, x, weight, None)  # the float op carries the gradient
        with torch.no_grad():
            start = b_int.reshape(shape)
            exact_sum = y.detach() * (2.0**F / theta)  # in LSBs (float64: as the SNN sums)
            if analog:  # a MAC with a wide adder: its sum truncated once, then saturated
                v = start + torch.trunc(exact_sum)
            elif not saturates and first_cut > 0 and bound * 2.0 ** (T - first_cut) < 2.0**53:
                # The float sum minus the bits truncation drops. The sum is exact in
                # float64: products are multiples of 2^-(F+T-first_cut) LSBs, bounded.
                code = torch.round(x.detach() * (2.0 ** (T - 1) / unit))  # 2^(T-1-t)
                v = start + exact_sum
                for t in range(first_cut, T):
                    scaled = w * 2.0 ** (F - t)
                    spikes = (code == 2.0 ** (T - 1 - t)).to(y.dtype)
                    v = v - _weighted(spec, spikes, scaled - torch.trunc(scaled), None)
            else:  # step by step: that step's truncated products, then saturate
                code = torch.round(x.detach() * (2.0 ** (T - 1) / unit))
                v = torch.clamp(start, lo, hi).expand_as(y)
                for t in range(T):
                    spikes = (code == 2.0 ** (T - 1 - t)).to(y.dtype)
                    step = _weighted(spec, spikes, torch.trunc(w * 2.0 ** (F - t)), None)
                    v = torch.clamp(v + step, lo, hi)
            v = torch.clamp(v, lo, hi) * (theta * 2.0**-F)
        if not torch.is_grad_enabled():
            return v  # exact (adding the zero below is exact too, but costs a pass)
        y = y + b_snn.reshape(shape)
        return v + (y - y.detach())  # forward exactly v, gradient of the float op

    def _through_steps(
        self,
        spec: Conv2d | Linear,
        x: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor,
        unit: float,
    ) -> torch.Tensor:
        """A spiking layer that may saturate, while training: the same forward values,
        with gradients through the step dynamics (each step's sum straight-through its
        truncation, each saturation's clip exact), so training sees what saturation does."""
        import torch

        T, F, theta = self.time_window, self.frac_bits, self.threshold
        lo, hi = -(2.0 ** (self.accumulator_bits - 1)), 2.0 ** (self.accumulator_bits - 1) - 1
        shape = (1, -1, 1, 1) if isinstance(spec, Conv2d) else (1, -1)
        code = torch.round(x.detach() * (2.0 ** (T - 1) / unit))  # 2^(T-1-t)
        b = bias * (2.0**F / theta)
        v = torch.clamp(_straight_through(b, torch.round(b.detach())), lo, hi).reshape(shape)
        for t in range(T):
            spikes = (code == 2.0 ** (T - 1 - t)).to(x.dtype)
            w = weight * (unit / theta * 2.0 ** (F - t))  # LSBs per spike at t
            with torch.no_grad():  # forward: the truncated products of the spikes at t
                exact = _weighted(spec, spikes, torch.trunc(w), None)
            # backward: that of the float products x * weight (in LSBs)
            f = _weighted(spec, x * (spikes * (2.0**t / unit)), w, None)
            v = torch.clamp(v + _straight_through(f, exact), lo, hi)
        return v * (theta * 2.0**-F)


def _straight_through(x: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """``value`` in the forward pass (exactly), the gradient of ``x`` in the backward."""
    return value.detach() + (x - x.detach())


def _whole(x: torch.Tensor) -> bool:
    import torch

    return torch.equal(x, torch.round(x))


def _weighted(
    spec: Conv2d | Linear, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None
) -> torch.Tensor:
    import torch.nn.functional as F

    if isinstance(spec, Conv2d):
        return F.conv2d(x, w, b, spec.stride, spec.padding)
    return F.linear(x, w, b)


class TTFSLogCoding(FixedPointCoding):
    """Time-to-first-spike coding with log computation (the paper's): one spike per neuron.

    See the module docstring for the exact definitions, the fixed-point accumulator and
    what the activity counts.
    """

    input_encodings = _INPUT_ENCODINGS
    measures_accumulator = True
    # Neurons per layer tensor in one simulated slice (2^20: 4 MiB float32). On 2 cores,
    # small_cnn on digits: 512 images per slice ~19-28k images/s, 1024 ~18k (measured).
    slice_elements = 2**20

    def __init__(
        self,
        time_window: int = 8,
        threshold: float = 1.0,
        accumulator_bits: int = 32,
        frac_bits: int = 24,
        input_encoding: str = "analog",
        percentile: float = 99.9,
        calibration_samples: int = 512,
        power_of_two_scales: bool = True,
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
        require(time_window <= 32, "coding.time_window", "must be <= 32", time_window)
        require(
            frac_bits >= time_window - 1,
            "coding.frac_bits",
            f"must be >= time_window - 1 = {time_window - 1} (the last threshold "
            "theta * 2^-(T-1) must be representable)",
            frac_bits,
        )

    def check_architecture(self, arch: Architecture) -> None:
        from dse.api.architecture import AvgPool2d

        for i, layer in enumerate(arch.layers):
            if isinstance(layer, AvgPool2d):
                raise ConfigError(
                    f"model {arch.name} layer {i}: average pooling is not a spike operation "
                    "in ttfs_log (its exact pooling is the earliest spike); use model.pool=max "
                    "or coding=rate"
                )

    def spike_values(self, x: torch.Tensor) -> torch.Tensor:
        """theta * 2^-t for the first t with x >= theta * 2^-t (module docstring)."""
        return ttfs_log_quantize(x, self.threshold, self.time_window)

    def input_encoder(self) -> nn.Module:
        """What the first layer sees, for CAT networks to train on exactly that."""
        from dse.api.network import AnalogPixels

        if self.input_encoding == "spikes":
            return _spike_encoder(self.time_window)
        return AnalogPixels()

    def accumulator(self, first: bool) -> TTFSLogAccumulator:
        """The fixed-point accumulator of a weighted layer, for CAT (module docstring)."""
        return TTFSLogAccumulator(
            time_window=self.time_window,
            threshold=self.threshold,
            accumulator_bits=self._accumulator_bits,
            frac_bits=self.frac_bits,
            inputs=self.input_encoding if first else "hidden",
        )

    # ------------------------------------------------------------------ simulation

    def prepare(self, snn: SpikingNetwork) -> list[_Integrator | None]:
        return self._plans(snn)

    def run_batch(
        self, snn: SpikingNetwork, x: torch.Tensor, prepared: list[_Integrator | None]
    ) -> SimulatedBatch:
        from dse.api.network import SimulatedBatch

        out = self._run(snn, x, prepared, with_times=False)
        return SimulatedBatch(out["potential"].argmax(1), out["activity"], out["lost"])

    def run(self, snn: SpikingNetwork, x: torch.Tensor) -> dict[str, Any]:
        """Simulate one batch of float pixels in [0, 1].

        Returns ``times`` (per architecture layer: spike time per neuron, T = no spike,
        None for Flatten and the read-out), ``potential`` (read-out potentials as integers
        in units of theta * 2^-frac_bits, float64), ``lost`` ((N, 2) float64: products that
        lost bits below the LSB (analog MAC: sums), neurons that saturated, over all
        layers) and ``activity`` (a (layers, N, 4)
        tensor of input_spikes, output_spikes, synops, time_steps per workload layer).
        """
        import torch

        with torch.no_grad():
            return self._run(snn, x, self._plans(snn), with_times=True)

    def _plans(self, snn: SpikingNetwork) -> list[_Integrator | None]:
        """Per weighted layer, how it integrates (see the module docstring); None for others."""
        import torch

        from dse.api.architecture import Conv2d
        from dse.api.network import PIXEL_FRAC_BITS
        from dse.builtin.codings._common import IntegerOp

        T, frac = self.time_window, self.frac_bits
        top = 2.0 ** (self._accumulator_bits - 1)
        analog = self.input_encoding == "analog"
        plans: list[_Integrator | None] = []
        for p in snn.layers:
            if p.weight is None:
                plans.append(None)
                continue
            w = p.weight
            bias = torch.round(p.bias * 2.0**frac)  # stored rounded to the accumulator LSB
            if isinstance(p.spec, Conv2d):
                bias = bias.reshape(1, -1, 1, 1)
            in_frac = PIXEL_FRAC_BITS if analog else T - 1
            scaled = w * 2.0 ** (frac - in_frac)  # weight x (input code units -> acc. LSBs)
            # Largest |partial sum| any event order can reach: every product is <= |w| 2^frac.
            bound = float((w.abs().reshape(w.shape[0], -1).sum(1) * 2.0**frac).max())
            bound += float(bias.abs().max())
            exact = bool(torch.equal(scaled, torch.round(scaled)))
            if analog and not exact:  # MAC with a wide float64 sum, truncated, saturated
                plans.append(_Integrator(bias, True, wide=scaled))
            elif analog or (exact and bound < top):
                # One pass. Spikes: exact integer products and no saturation possible, so
                # this equals the step-by-step result. Analog: exact MAC, saturated.
                x_max = 2.0**PIXEL_FRAC_BITS if analog else 2.0 ** (T - 1)  # largest code
                op = IntegerOp(p, scaled, x_max, bias=bias)  # the bias is the initial value
                plans.append(_Integrator(bias, bound >= top, one_pass=op))
            else:  # per input time step: the truncated products of that step's spikes
                steps = [IntegerOp(p, torch.trunc(w * 2.0 ** (frac - t)), 1.0) for t in range(T)]
                cuts = [_cut_counter(w * 2.0 ** (frac - t)) for t in range(T)]
                plans.append(_Integrator(bias, True, steps=steps, cuts=cuts))
            analog = False
        return plans

    def _run(
        self,
        snn: SpikingNetwork,
        x: torch.Tensor,
        plans: list[_Integrator | None],
        *,
        with_times: bool,
    ) -> dict[str, Any]:
        import torch
        import torch.nn.functional as F

        from dse.api.architecture import Conv2d, Flatten, Linear, MaxPool2d
        from dse.api.network import PIXEL_FRAC_BITS, pool_events, synaptic_events

        T = self.time_window
        n = x.shape[0]
        x = x.to(torch.float64)
        # code = 2^(T-1-t) for a spike at t, 0 for none: max pooling is a max of codes.
        if self.input_encoding == "spikes":
            code = torch.round(ttfs_log_quantize(x, 1.0, T) * 2.0 ** (T - 1))
        else:
            code = torch.round(x * 2.0**PIXEL_FRAC_BITS)
        times: list[torch.Tensor | None] = []
        rows = []
        potential = torch.zeros(0)
        last = len(snn.layers) - 1
        full = torch.full((n,), float(T), dtype=torch.float64)
        lost = torch.zeros(n, 2, dtype=torch.float64)  # truncated products, saturated neurons
        active, count = _active(code)  # spike indicator (small integers: exact) and count
        for i, p in enumerate(snn.layers):
            spec = p.spec
            in_spikes = count
            if isinstance(spec, Flatten):
                code, active = code.reshape(n, -1), active.reshape(n, -1)
                times.append(None)
                continue
            if isinstance(spec, MaxPool2d):
                code = F.max_pool2d(code, spec.kernel, spec.stride)
                events = pool_events(spec, active).to(torch.float64)
                active, count = _active(code)
                rows.append(torch.stack([in_spikes, count, events, full]))
                times.append(self._times(code) if with_times else None)
                continue
            assert isinstance(spec, (Conv2d, Linear)), spec
            plan = plans[i]
            assert plan is not None
            v, layer_lost = self._integrate(p, plan, code, fires=i != last)
            lost = lost + layer_lost
            events = synaptic_events(p, active).to(torch.float64)
            if i == last:
                potential = v.to(torch.float64)
                times.append(None)
                rows.append(torch.stack([in_spikes, torch.zeros_like(full), events, full]))
                continue
            code = self._fire(v)
            active, count = _active(code)
            times.append(self._times(code) if with_times else None)
            rows.append(torch.stack([in_spikes, count, events, full]))
        activity = torch.stack(rows).transpose(1, 2) if rows else torch.zeros(0, n, 4)
        return {"times": times, "potential": potential, "activity": activity, "lost": lost}

    def _times(self, code: torch.Tensor) -> torch.Tensor:
        import torch

        T = self.time_window
        _, e = torch.frexp(code)  # code = 2^(T-1-t) -> e = T - t
        return torch.where(code > 0, T - e, torch.full_like(e, T)).to(torch.int64)

    def _fire(self, v: torch.Tensor) -> torch.Tensor:
        """Spike code 2^(T-1-t) (float32) for the first t with V >= 2^(F-t); 0 for none.

        t = F - floor(log2 V): the code is 2^floor(log2 V) * 2^(T-1-F), read off the
        float's exponent bits (cheaper than frexp + ldexp), after clamping V (exact
        integers, float32 or float64) into [2^(F-T), 2^F]: above 2^F it fires at t = 0;
        below 2^(F-T+1) it never fires and the code comes out as 1/2, floored to 0.
        """
        import torch

        from dse.api.network import FLOAT32_EXACT_BITS

        T, F = self.time_window, self.frac_bits
        vc = torch.clamp(v, 2.0 ** (F - T), 2.0**F)
        if F <= FLOAT32_EXACT_BITS:  # clamped integers <= 2^F are exact in float32
            vc = vc.to(torch.float32)
        if vc.dtype == torch.float32:
            vc.view(torch.int32).bitwise_and_(_FLOAT32_EXPONENT_BITS)  # 2^floor(log2 vc)
        else:
            vc.view(torch.int64).bitwise_and_(_FLOAT64_EXPONENT_BITS)
        return torch.floor_(vc.mul_(2.0 ** (T - 1 - F))).to(torch.float32)

    def _integrate(
        self, p: Any, plan: _Integrator, code: torch.Tensor, *, fires: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Accumulator value (integer units of 2^-frac_bits theta); for a layer that
        ``fires``, possibly only what _fire needs of it (see the one-pass case). And per
        sample (N, 2), float64: products that lost bits (analog MAC: sums), neurons that
        saturated."""
        import torch

        from dse.api.network import FLOAT32_EXACT_BITS, count_sum, layer_op

        T = self.time_window
        top = 2.0 ** (self._accumulator_bits - 1)
        lo_sat, hi_sat = -top, top - 1
        bias = plan.bias
        lost = torch.zeros(code.shape[0], 2, dtype=torch.float64)
        dims = tuple(range(1, code.dim()))

        def count(flags: torch.Tensor) -> torch.Tensor:  # True entries per sample
            return count_sum(flags.to(torch.float32), tuple(range(1, flags.dim())))

        if plan.wide is not None:  # analog MAC whose products are not integers
            acc = layer_op(p.spec, code.to(torch.float64), plan.wide)
            kept = torch.trunc(acc)
            lost[:, 0] = count(kept != acc)
            v = bias + kept
            lost[:, 1] = count((v < lo_sat) | (v > hi_sat))
            return v.clamp_(lo_sat, hi_sat), lost
        if plan.one_pass is not None:  # exact integer sum (bias included), whole LSBs
            if fires and self.frac_bits <= FLOAT32_EXACT_BITS and not plan.clamp:
                # _fire clamps V into [2^(F-T), 2^F] and reads its power of two: the float32
                # sum of two parts is exact below 2^24 and rounds monotonically, so it gives
                # the same code.
                return plan.one_pass(code, rounded=True), lost
            v = plan.one_pass(code)
            if plan.clamp:
                lost[:, 1] = count((v < lo_sat) | (v > hi_sat))
                v.clamp_(lo_sat, hi_sat)
            return v, lost
        # Step by step: per-product truncation, saturation after every input time step.
        v = torch.clamp(bias, lo_sat, hi_sat)
        saturated = v != bias  # a bias outside the range saturates from the start
        stepped = False
        for t, op in enumerate(plan.steps):
            spikes = code == 2.0 ** (T - 1 - t)
            if not bool(spikes.any()):
                continue
            pre = v + op(spikes)
            v = torch.clamp(pre, lo_sat, hi_sat)
            saturated = saturated | (v != pre)
            stepped = True
            cut = plan.cuts[t]
            if cut is not None:
                lost[:, 0] += count_sum(layer_op(p.spec, spikes.to(torch.float32), cut), dims)
        if not stepped:  # no input spike at all: the potential is the bias
            v = v + plan.steps[0](torch.zeros_like(code))
        lost[:, 1] = count(saturated.expand_as(v))
        return v, lost


# A float's exponent field: x & mask is 2^floor(log2 x) for positive normal x (IEEE 754
# binary32 / binary64 layouts).
_FLOAT32_EXPONENT_BITS = 0x7F800000
_FLOAT64_EXPONENT_BITS = 0x7FF0000000000000


def _exponent_view(dtype: torch.dtype) -> tuple[torch.dtype, int] | None:
    """The integer view and exponent mask of a float dtype (None: not float32/float64)."""
    import torch

    if dtype == torch.float32:
        return torch.int32, _FLOAT32_EXPONENT_BITS
    if dtype == torch.float64:
        return torch.int64, _FLOAT64_EXPONENT_BITS
    return None


@dataclass
class _Integrator:
    """How one weighted layer integrates its input, prepared once from its weights."""

    bias: torch.Tensor  # the accumulator's initial value, in LSBs (float64)
    clamp: bool  # False when no reachable value can saturate
    one_pass: IntegerOp | None = None  # exact integer op on the input codes
    wide: torch.Tensor | None = None  # float64 weights of a MAC with non-integer products
    steps: list[IntegerOp] = field(default_factory=list)  # per input time step
    # per input time step: per input neuron, the outputs whose product it truncates
    # (one output channel: counts, not sums); None when no product of that step loses bits
    cuts: list[torch.Tensor | None] = field(default_factory=list)


def _cut_counter(scaled: torch.Tensor) -> torch.Tensor | None:
    """Kernel counting the products of ``scaled`` (weights in LSBs) that lose bits."""
    import torch

    cut = scaled != torch.trunc(scaled)
    return cut.sum(0, keepdim=True).to(torch.float32) if bool(cut.any()) else None


def _active(code: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Spike indicator (float32) and spikes per sample (float64)."""
    import torch

    from dse.api.network import count_sum

    # codes are 0 or >= 1: clamping is the indicator, ~10x cheaper than (code > 0).float()
    active = code.clamp(max=1.0).to(torch.float32)
    return active, count_sum(active, tuple(range(1, active.dim())))
