"""Built-in training methods: standard (ReLU, float) and conversion-aware training (CAT)."""

from plugins.training.cat import ConversionAwareTraining
from plugins.training.standard import StandardTraining

__all__ = ["ConversionAwareTraining", "StandardTraining"]
