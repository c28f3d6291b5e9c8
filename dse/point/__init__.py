"""One design point: the stages (``pipeline``: data, model, train, convert, simulate,
estimate), the content-addressed stage cache (``cache``), the run-time checks of plugin
output (``guards``) and what a person reads of it (``report``). Imports ``dse.api``,
``dse.registry`` and ``dse.runtime``; never the front, tracking or a sweeper."""
