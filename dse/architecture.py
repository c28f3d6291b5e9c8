"""Moved: the code lives in dse/api/architecture.py. This path stays for plugin authors:
``import dse.architecture`` gives that module itself (same objects, private names included)."""

import sys

from dse.api import architecture as _home

sys.modules[__name__] = _home
