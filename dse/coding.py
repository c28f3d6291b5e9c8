"""Moved: the code lives in dse/api/coding.py. This path stays for plugin authors:
``import dse.coding`` gives that module itself (same objects, private names included)."""

import sys

from dse.api import coding as _home

sys.modules[__name__] = _home
