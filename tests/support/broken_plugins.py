"""Deliberately wrong plugin classes for the bad-input tests."""

from dse.api.interfaces import WeightQuantizer


class NotAQuantizer:
    """Has the method but not the interface."""

    def quantize(self, weight):
        return weight


class HalfAQuantizer(WeightQuantizer):
    """Subclasses the interface but forgets storage_bits."""

    format = "uniform"

    def __init__(self, bits: int = 4) -> None:
        self.bits = bits

    def quantize(self, weight):
        return weight
