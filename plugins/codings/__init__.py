"""Built-in spike codings: TTFS with logarithmic computation (the paper's) and rate coding."""

from plugins.codings.rate import RateCoding
from plugins.codings.ttfs_log import TTFSLogCoding

__all__ = ["RateCoding", "TTFSLogCoding"]
