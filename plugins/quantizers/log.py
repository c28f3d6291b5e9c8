"""Logarithmic k-bit weights: 1 sign bit + (k-1)-bit exponent code, one code for zero."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from dse.api.errors import require
from dse.api.interfaces import WeightQuantizer
from dse.api.workload import WeightFormat

if TYPE_CHECKING:
    import torch

_SCALES = ("layer", "channel")


class LogQuantizer(WeightQuantizer):
    """Logarithmic k-bit weights w = +-s * 2^-e (shift-only hardware), per-layer scale s = 2^p.

    Code layout: 1 sign bit + a (k-1)-bit exponent code; exponent codes 0 .. 2^(k-1) - 2
    are e, the last code means zero. So there are 2^k codes, and 2^k - 1 distinct values:
    2^(k-1) - 1 magnitudes x 2 signs, plus zero (+0 and -0 are the same weight).

    Scale: s = 2^round(log2 max|w|) (the largest weight, rounded in the log domain;
    weights up to sqrt(2) * s clip to s), per layer (``scale=layer``, the paper's) or per
    output channel (``scale=channel``: each output neuron's weights keep their own 2^(k-1)
    - 1 levels below their own largest; a power of two per channel, so the synapses stay
    shifts, with a small per-channel exponent offset beside the weight memory). Rounding: e = round(log2(s / |w|)),
    i.e. to the nearest level in log2, the boundary between 2^-e and 2^-(e+1) being their
    geometric mean. Weights below the smallest level / sqrt(2) (the geometric midpoint
    towards the next, unrepresentable level) become zero. The largest quantized weight is
    exactly s, so quantizing again finds the same s and the same levels (idempotent).
    """

    format: ClassVar[WeightFormat] = "log"

    def __init__(self, bits: int = 5, scale: str = "layer") -> None:
        require(bits >= 2, "quantizer.bits", "must be >= 2 for log weights", bits)
        # e <= 2^(k-1) - 2 must stay a normal float32 exponent: 2^-126 is the smallest.
        require(bits <= 7, "quantizer.bits", "must be <= 7 for log weights", bits)
        require(scale in _SCALES, "quantizer.scale", f"must be one of {_SCALES}", scale)
        self.bits = int(bits)
        self.scale = scale

    @property
    def storage_bits(self) -> int:
        return self.bits

    @property
    def max_exponent(self) -> int:
        """Largest e: exponent codes 0 .. 2^(k-1) - 2 (the last code is zero)."""
        return 2 ** (self.bits - 1) - 2

    @property
    def num_codes(self) -> int:
        return 2**self.bits

    @property
    def num_values(self) -> int:
        """Distinct weight values: 2 * (2^(k-1) - 1) nonzero, plus zero = 2^k - 1."""
        return 2 * (self.max_exponent + 1) + 1

    def scale_exponent(self, weight: torch.Tensor) -> int:
        """p with s = 2^p: log2 of the layer's max |w|, rounded (0 for an all-zero layer)."""
        import torch

        m = float(weight.detach().abs().max()) if weight.numel() else 0.0
        if m == 0.0:
            return 0
        return int(torch.round(torch.log2(torch.tensor(m, dtype=torch.float64))))

    def _exponents(self, w: torch.Tensor) -> torch.Tensor | int:
        """p per layer (an int) or per output channel (float64, broadcastable to w)."""
        import torch

        if self.scale == "layer" or w.dim() < 2 or not w.numel():
            return self.scale_exponent(w)
        m = w.abs().to(torch.float64).amax(dim=tuple(range(1, w.dim())))
        p = torch.where(m > 0, torch.round(torch.log2(m.clamp_min(1e-300))), 0.0)
        return p.reshape(-1, *([1] * (w.dim() - 1)))

    def quantize(self, weight: torch.Tensor) -> torch.Tensor:
        import torch

        w = weight.detach()
        p = self._exponents(w)
        mag = w.abs().to(torch.float64)
        # e = round(log2(s / |w|)) computed on float64 magnitudes, clamped at the top level
        e = torch.round(p - torch.log2(mag.clamp_min(1e-300))).clamp_min(0)
        keep = (mag > 0) & (e <= self.max_exponent)
        q = torch.ldexp(torch.ones_like(mag), torch.as_tensor(p - e).to(torch.int64)) * torch.sign(
            w.to(torch.float64)
        )
        return torch.where(keep, q, torch.zeros_like(q)).to(w.dtype)

    def levels(self, weight: torch.Tensor) -> torch.Tensor:
        """All 2^k - 1 values a weight of this layer can take, sorted (``scale=channel``:
        of its first output channel; each channel has its own 2^k - 1)."""
        import torch

        p = self._exponents(weight)
        p = int(p.flatten()[0]) if isinstance(p, torch.Tensor) else p
        e = torch.arange(self.max_exponent + 1, dtype=torch.int64)
        mags = torch.ldexp(torch.ones(len(e), dtype=torch.float64), p - e)
        vals = torch.cat([-mags, torch.zeros(1, dtype=torch.float64), mags])
        return torch.sort(vals).values.to(weight.dtype)
