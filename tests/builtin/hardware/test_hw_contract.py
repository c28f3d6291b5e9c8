"""The hardware plugin contract (dse.testing) on every built-in hardware model."""

from __future__ import annotations

import pytest

from dse.api.interfaces import HardwareModel
from dse.builtin.hardware import ANNAccelerator, RateProcessor, TTFSProcessor
from dse.builtin.hardware.zigzag_ann import ZigZagANN
from dse.testing import HardwareModelContract


class TestTTFSProcessorContract(HardwareModelContract):
    def make_model(self) -> HardwareModel:
        return TTFSProcessor()


class TestRateProcessorContract(HardwareModelContract):
    def make_model(self) -> HardwareModel:
        return RateProcessor()


class TestANNAcceleratorContract(HardwareModelContract):
    def make_model(self) -> HardwareModel:
        return ANNAccelerator()


class TestPositionsOuterContract(HardwareModelContract):
    def make_model(self) -> HardwareModel:
        return TTFSProcessor(weight_sram_kb=1.0, loop_order="positions_outer", num_pes=16)


@pytest.mark.slow  # ZigZag's mapping search: seconds per estimate
class TestZigZagANNContract(HardwareModelContract):
    def make_model(self) -> HardwareModel:
        return ZigZagANN(num_pes=16, position_parallel=4)
