"""A sweep's accuracy-energy front: the search spec (``search``: objectives, constraints),
the math (``pareto``), the front as people read it (``render``: table, Markdown, CSV,
plots), its record on the MLflow parent run (``store``) and what makes it browsable
(``browse``: run names, the parent's description, UI URLs, the study's annotations).
Imports ``dse.api`` and ``dse.runtime`` only: the front never runs a design point and
never imports tracking or a sweeper."""
