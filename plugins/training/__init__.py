"""Built-in training methods: standard (ReLU, float) and conversion-aware training (CAT)."""

from dse.builtin.training.cat import ConversionAwareTraining
from dse.builtin.training.standard import StandardTraining

__all__ = ["ConversionAwareTraining", "StandardTraining"]
