"""No quantization: weights stay floating point (32-bit or rounded to 16-bit halves)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from dse.api.errors import require
from dse.api.interfaces import WeightQuantizer
from dse.api.workload import WeightFormat

if TYPE_CHECKING:
    import torch


class FloatQuantizer(WeightQuantizer):
    """Floating-point weights (no quantization); 32-bit, or 16-bit IEEE halves.

    ``bits=32`` is the identity. ``bits=16`` rounds each weight to the nearest IEEE 754
    binary16 value (what a 16-bit weight SRAM would hold); both are idempotent.
    """

    format: ClassVar[WeightFormat] = "float"

    def __init__(self, bits: int = 32) -> None:
        require(bits in (16, 32), "quantizer.bits", "must be 16 or 32 for float weights", bits)
        self.bits = int(bits)

    @property
    def storage_bits(self) -> int:
        return self.bits

    def quantize(self, weight: torch.Tensor) -> torch.Tensor:
        import torch

        w = weight.detach()
        if self.bits == 32:
            return w.clone()
        return w.to(torch.float16).to(w.dtype)
