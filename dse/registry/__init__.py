"""Plugins found, checked and built: the config schemas (``schema``: the top-level schema,
each plugin group checked against its class's constructor) and discovery (``discovery``:
conf/, users' ``--config-dir``, entry points; ``compose_plugin``). Imports ``dse.api`` only."""
