"""The commands: ``dse`` (``app``: one design point, or a sweep with ``-m``) and
``dse-estimate`` (``estimate``: price a model without training). The only folder that
wires everything together; nothing else in ``dse`` imports it.

Importing this package is cheap: ``main`` loads ``dse.cli.app`` when called, so the
``dse`` script's Ctrl-C handler (installed by ``app`` before its heavy imports) is in
place exactly as when the command lived in one module.
"""

from __future__ import annotations

from typing import Any


def main() -> None:
    """The ``dse`` console script."""
    from dse.cli.app import main as run

    run()


def __getattr__(name: str) -> Any:  # `from dse.cli import X` for any X of app.py
    import importlib  # not `from dse.cli import app`: that asks __getattr__ again

    try:
        return getattr(importlib.import_module("dse.cli.app"), name)
    except AttributeError:
        raise AttributeError(f"module 'dse.cli' has no attribute {name!r}") from None
