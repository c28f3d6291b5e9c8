"""``python -m dse.cli``: the ``dse`` command (what the console script runs)."""

from dse.cli import main

main()
