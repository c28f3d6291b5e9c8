"""Exact fixed-point arithmetic both built-in spike codings share (IntegerOp).

What any coding needs (the converted network, activity counting) is public in
``dse.network``; this module is the built-ins' fast exact integer convolution.
"""

from __future__ import annotations

import torch

from dse.api.network import FLOAT32_EXACT_BITS, LayerParams, layer_op

# float64 holds every integer below 2^53 exactly (IEEE 754 binary64, 53-bit significand).
FLOAT64_EXACT_BITS = 53
# At most this many float32 parts per exact integer op, then float64 (our choice). Measured
# on 2 cores, a 16->32 3x3 conv of 1024 8x8 images: float64 48 ms; float32 channels-last
# 3.8 / 9.0 / 12.2 ms for 1 / 2 / 3 parts (stacked output channels).
MAX_FLOAT32_PARTS = 3


def float32_is_ieee() -> bool:
    """True when torch computes float32 convs and matmuls in IEEE float32 (the default):
    through oneDNN, with no TF32 / bf16 shortcuts: the exactness bounds below need it."""
    if torch.get_float32_matmul_precision() != "highest":
        return False
    mkldnn = torch.backends.mkldnn
    # Without oneDNN torch may pick Winograd (NNPACK) convolutions, which are not exact.
    if not mkldnn.is_available() or not mkldnn.enabled:
        return False
    for obj in (mkldnn, getattr(mkldnn, "conv", None), getattr(mkldnn, "matmul", None)):
        if getattr(obj, "fp32_precision", "none") not in ("none", "ieee"):
            return False
    return True


class IntegerOp:
    """A layer's conv / linear of integer-valued inputs 0 <= x <= ``x_max`` with
    integer-valued weights, computed exactly and fast.

    float32 adds integers exactly while every partial sum stays below 2^24, whatever the
    summation order; |partial sum| <= x_max * sum|w| over one output's fan-in bounds them
    all. When that bound is too large, the weights are split into base-2^k digits
    w = sum_j d_j 2^(z + k j) (z: the power of two common to all weights), each digit's
    bound below 2^24; the digit kernels are stacked along the output channels (one conv
    call) and recombined exactly in float64. float64 (exact below 2^53) is the fallback.
    An integer ``bias`` (one per output) is added inside the op (the conv adds it in the
    same pass). Calling it returns exact integers: float32 when one part suffices, else
    float64.
    """

    def __init__(
        self, p: LayerParams, w_int: torch.Tensor, x_max: float, bias: torch.Tensor | None = None
    ) -> None:
        self.p = p
        self.out = w_int.shape[0]
        a = w_int.abs().to(torch.float64)
        self.bound = float(x_max * a.reshape(self.out, -1).sum(1).max()) if a.numel() else 0.0
        self.bias = None if bias is None else bias.reshape(-1).to(torch.float64)
        if self.bias is not None:
            self.bound += float(self.bias.abs().max())
        limit = 2.0**FLOAT32_EXACT_BITS
        self.scales: list[float] = []
        self.weight = w_int.to(torch.float64)  # the float64 fallback
        if not float32_is_ieee() or self.bound >= 2.0**FLOAT64_EXACT_BITS:
            return
        if self.bound < limit:
            self.weight, self.scales = w_int.to(torch.float32), [1.0]
            if self.bias is not None:
                self.bias = self.bias.to(torch.float32)
            return
        ai = a.to(torch.int64)
        nonzero = ai[ai > 0]
        z = int(torch.log2((nonzero & -nonzero).to(torch.float64)).min())  # trailing zeros
        ai = ai >> z
        bits = int(ai.max()).bit_length()
        sign = torch.sign(w_int).to(torch.float32)
        bias_max = float(self.bias.abs().max()) if self.bias is not None else 0.0
        for parts in range(2, MAX_FLOAT32_PARTS + 1):
            k = -(-bits // parts)
            digits = [(ai >> (k * j)) & ((1 << k) - 1) for j in range(parts)]
            sums = [float(d.reshape(self.out, -1).sum(1).max()) * x_max for d in digits]
            # Part j's products are multiples of 2^(z+kj): with its digits scaled by that,
            # its sums stay exact below 2^(24+z+kj). Part 0 also adds the (integer) bias.
            sums[0] = sums[0] * 2.0**z + bias_max
            if max(sums) < limit:
                scaled = [
                    sign * d.to(torch.float32) * 2.0 ** (z + k * j) for j, d in enumerate(digits)
                ]
                self.weight = torch.cat(scaled)
                self.scales = [2.0 ** (z + k * j) for j in range(parts)]
                if self.bias is not None:  # into part 0's conv; zero for the others
                    zeros = torch.zeros((parts - 1) * self.out, dtype=torch.float64)
                    self.bias = torch.cat([self.bias, zeros]).to(torch.float32)
                return

    def __call__(self, x: torch.Tensor, *, rounded: bool = False) -> torch.Tensor:
        """Exact integer result. ``rounded`` with two parts: their float32 sum instead,
        the exact result correctly rounded (one rounding, monotone): exact wherever the
        result is below 2^24, and never on the wrong side of a power of two."""
        if not self.scales:
            return layer_op(self.p.spec, x.to(torch.float64), self.weight, self.bias)
        if x.dim() == 4:  # oneDNN's float32 conv is ~3x faster in channels-last (measured)
            x = x.to(torch.float32, memory_format=torch.channels_last)
        if len(self.scales) == 1:
            return layer_op(self.p.spec, x.to(torch.float32), self.weight, self.bias)
        y = layer_op(self.p.spec, x.to(torch.float32), self.weight, self.bias)
        if rounded and len(self.scales) == 2:
            return y.narrow(1, 0, self.out) + y.narrow(1, self.out, self.out)
        acc = y.narrow(1, 0, self.out).to(torch.float64)  # parts come scaled: just add
        for j in range(1, len(self.scales)):
            acc.add_(y.narrow(1, j * self.out, self.out))
        return acc
