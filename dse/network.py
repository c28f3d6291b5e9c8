"""Moved: the code lives in dse/api/network.py. This path stays for plugin authors:
``import dse.network`` gives that module itself (same objects, private names included)."""

import sys

from dse.api import network as _home

sys.modules[__name__] = _home
