"""Moved: the code lives in dse/api/errors.py. This path stays for plugin authors:
``import dse.errors`` gives that module itself (same objects, private names included)."""

import sys

from dse.api import errors as _home

sys.modules[__name__] = _home
