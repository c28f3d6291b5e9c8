"""Moved: the code lives in dse/api/data.py. This path stays for plugin authors:
``import dse.data`` gives that module itself (same objects, private names included)."""

import sys

from dse.api import data as _home

sys.modules[__name__] = _home
