"""Contract test suites for plugin authors, one per plugin kind.

Subclass one in your own test module, name the subclass ``Test...`` and implement its
factory method; pytest then runs every check of the contract against your plugin::

    from dse.testing import WeightQuantizerContract

    class TestTernary(WeightQuantizerContract):
        def make_quantizer(self):
            return Ternary(threshold=0.05)

=========================  ==================  =========================================
suite                      factory             checks
=========================  ==================  =========================================
DatasetContract            make_dataset        typed splits, labels, determinism, no
                                               network access in load()
ModelBuilderContract       make_builder        a valid Architecture for the input shape
TrainingMethodContract     make_method         logits, determinism, cacheable weights
WeightQuantizerContract    make_quantizer      idempotent, signs, format, storage bits
SpikeCodingContract        make_coding         SNN == CAT network, activity per layer
HardwareModelContract      make_model          finite, consistent, monotone reports
=========================  ==================  =========================================

A failure says which plugin broke what, and what to do instead.
"""

import pytest

# Registered before the suites are imported, so pytest rewrites their asserts (the values
# compared are shown under each message) in a plugin author's test run as in this project's.
pytest.register_assert_rewrite("dse.testing._contracts", "dse.testing._helpers")

from dse.testing._contracts import (  # noqa: E402
    DatasetContract,
    HardwareModelContract,
    ModelBuilderContract,
    SpikeCodingContract,
    TrainingMethodContract,
    WeightQuantizerContract,
)
from dse.testing._helpers import builtin_plugin, example_workload  # noqa: E402

__all__ = [
    "DatasetContract",
    "HardwareModelContract",
    "ModelBuilderContract",
    "SpikeCodingContract",
    "TrainingMethodContract",
    "WeightQuantizerContract",
    "builtin_plugin",
    "example_workload",
]
