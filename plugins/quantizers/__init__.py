"""Built-in weight quantizers: float (none), uniform k-bit and logarithmic k-bit."""

from plugins.quantizers.float import FloatQuantizer
from plugins.quantizers.log import LogQuantizer
from plugins.quantizers.uniform import UniformQuantizer

__all__ = ["FloatQuantizer", "LogQuantizer", "UniformQuantizer"]
