"""Built-in weight quantizers: float (none), uniform k-bit and logarithmic k-bit."""

from dse.builtin.quantizers.float import FloatQuantizer
from dse.builtin.quantizers.log import LogQuantizer
from dse.builtin.quantizers.uniform import UniformQuantizer

__all__ = ["FloatQuantizer", "LogQuantizer", "UniformQuantizer"]
