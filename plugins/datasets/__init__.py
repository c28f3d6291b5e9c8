"""Built-in datasets (config group ``dataset``). Modules import torch lazily, in ``load``."""
