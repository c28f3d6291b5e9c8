"""Hardware models (config group ``hardware``): price a Workload in energy, latency, area.

No torch here: a model is plain python arithmetic over the workload's layers.
"""

from dse.builtin.hardware.ann_accelerator import ANNAccelerator
from dse.builtin.hardware.rate_processor import RateProcessor
from dse.builtin.hardware.technology import Technology, known_nodes, load_technology
from dse.builtin.hardware.ttfs_processor import TTFSProcessor

__all__ = [
    "ANNAccelerator",
    "RateProcessor",
    "TTFSProcessor",
    "Technology",
    "known_nodes",
    "load_technology",
]
