"""Symmetric uniform k-bit weight quantization with a per-layer or per-channel scale."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from dse.api.errors import require
from dse.api.interfaces import WeightQuantizer
from dse.api.workload import WeightFormat

if TYPE_CHECKING:
    import torch


class UniformQuantizer(WeightQuantizer):
    """Uniform symmetric k-bit weights: w = n * m / (2^(k-1) - 1), |n| <= 2^(k-1) - 1.

    ``m`` is max |w| of the layer (or of each output channel with ``per_channel``), so the
    largest weight is exactly representable. The 2^k codes hold 2^k - 1 distinct levels
    (symmetric grid, the code -2^(k-1) is unused). Products n * m / qmax are formed in
    float64 (exact for n = qmax), so the largest level equals m bit for bit and quantizing
    a quantized tensor gives it back unchanged (idempotent).
    """

    format: ClassVar[WeightFormat] = "uniform"

    def __init__(self, bits: int = 8, per_channel: bool = False) -> None:
        require(bits >= 2, "quantizer.bits", "must be >= 2 for uniform weights", bits)
        require(bits <= 16, "quantizer.bits", "must be <= 16 for uniform weights", bits)
        self.bits = int(bits)
        self.per_channel = bool(per_channel)

    @property
    def storage_bits(self) -> int:
        return self.bits

    @property
    def qmax(self) -> int:
        return 2 ** (self.bits - 1) - 1

    def _max_abs(self, w: torch.Tensor) -> torch.Tensor:
        """max |w| as float64, shaped to broadcast against ``w``."""
        w = w.detach().to(dtype=__import__("torch").float64)
        if self.per_channel and w.dim() > 1:
            return w.abs().flatten(1).amax(dim=1).reshape(-1, *([1] * (w.dim() - 1)))
        return w.abs().amax().reshape([1] * w.dim())

    def quantize(self, weight: torch.Tensor) -> torch.Tensor:
        import torch

        w = weight.detach().to(torch.float64)
        m = self._max_abs(weight)
        safe = torch.where(m > 0, m, torch.ones_like(m))
        n = torch.round(w * self.qmax / safe).clamp(-self.qmax, self.qmax)
        return (n * safe / self.qmax).to(weight.dtype)

    def levels(self, weight: torch.Tensor) -> torch.Tensor:
        """The level set for ``weight``: (2^k - 1,) per layer, (C_out, 2^k - 1) per channel."""
        import torch

        n = torch.arange(-self.qmax, self.qmax + 1, dtype=torch.float64)
        m = self._max_abs(weight).reshape(-1, 1)
        out = (n * m / self.qmax).to(weight.dtype)
        return out[0] if out.shape[0] == 1 and not (self.per_channel and weight.dim() > 1) else out
