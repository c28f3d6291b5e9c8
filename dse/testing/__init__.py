"""Contract test suites for plugin authors.

Subclass one in your own test module, name the subclass ``Test...`` and implement its
factory method; pytest then runs every check of the contract against your plugin::

    from dse.testing import WeightQuantizerContract

    class TestTernary(WeightQuantizerContract):
        def make_quantizer(self):
            return Ternary(threshold=0.05)
"""

from dse.testing._contracts import (
    HardwareModelContract,
    ModelBuilderContract,
    WeightQuantizerContract,
    example_workload,
)

__all__ = [
    "HardwareModelContract",
    "ModelBuilderContract",
    "WeightQuantizerContract",
    "example_workload",
]
