"""Moved: the code lives in dse/api/interfaces.py. This path stays for plugin authors:
``import dse.interfaces`` gives that module itself (same objects, private names included)."""

import sys

from dse.api import interfaces as _home

sys.modules[__name__] = _home
