"""Moved: the code lives in dse/api/workload.py. This path stays for plugin authors:
``import dse.workload`` gives that module itself (same objects, private names included)."""

import sys

from dse.api import workload as _home

sys.modules[__name__] = _home
