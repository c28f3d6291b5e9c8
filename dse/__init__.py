"""snn-dse: design-space exploration for spiking-neural-network processors.

One folder per concern (docs/ARCHITECTURE.md opens with the map): ``api`` (what plugin
authors import), ``testing`` (their contract kit), ``registry`` (plugin discovery and
config checks), ``point`` (one design point), ``front`` (a sweep's Pareto front),
``tracking`` (MLflow), ``runtime`` (locks, signals, password masking), ``cli`` (the
commands). ``builtin`` and ``conf`` are the built-in plugins and their configs.
"""

from dse import _moved

_moved.install()  # old flat module paths (dse.point.pipeline, dse.registry.discovery, ...) still import
