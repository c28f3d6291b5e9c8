"""Hardware models (config group ``hardware``): price a Workload in energy, latency, area.

No torch here: a model is plain python arithmetic over the workload's layers.
"""

from plugins.hardware.ann_accelerator import ANNAccelerator
from plugins.hardware.rate_processor import RateProcessor
from plugins.hardware.technology import Technology, known_nodes, load_technology
from plugins.hardware.ttfs_processor import TTFSProcessor

__all__ = [
    "ANNAccelerator",
    "RateProcessor",
    "TTFSProcessor",
    "Technology",
    "known_nodes",
    "load_technology",
]
