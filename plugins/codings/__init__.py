"""Built-in spike codings: TTFS with logarithmic computation (the paper's) and rate coding."""

from dse.builtin.codings.rate import RateCoding
from dse.builtin.codings.ttfs_log import TTFSLogCoding

__all__ = ["RateCoding", "TTFSLogCoding"]
