"""Where the modules of the flat ``dse/`` of earlier versions live now.

``import dse.pipeline`` (any name below) gives the new module itself, the same object, so
old imports, ``monkeypatch.setattr(dse.plugins, ...)`` and private names keep working
without a file per old name. The public paths of plugin authors (``dse.interfaces``,
``dse.network``, ...) are small files in ``dse/`` instead, so they show in the tree.
"""

from __future__ import annotations

import importlib
import sys
from importlib.machinery import ModuleSpec
from types import ModuleType

MOVED = {
    "dse.config": "dse.registry.schema",
    "dse.plugins": "dse.registry.discovery",
    "dse.pipeline": "dse.point.pipeline",
    "dse.cache": "dse.point.cache",
    "dse.guards": "dse.point.guards",
    "dse.report": "dse.point.report",
    "dse.search": "dse.front.search",
    "dse.pareto": "dse.front.pareto",
    "dse.front_store": "dse.front.store",
    "dse.front_report": "dse.front.render",
    "dse.front_browse": "dse.front.browse",
    "dse.locks": "dse.runtime.locks",
    "dse.interrupts": "dse.runtime.interrupts",
    "dse.redact": "dse.runtime.redact",
    "dse.estimate": "dse.cli.estimate",
}


class _OldPath:
    """Finds an old name; loading it puts the new module in its place in sys.modules. (A
    finder and loader by protocol: importlib.abc would cost every ``import dse`` the import
    of importlib.resources.)"""

    def find_spec(self, name: str, path: object = None, target: object = None) -> ModuleSpec | None:
        if name not in MOVED:
            return None
        return ModuleSpec(name, self)

    def create_module(self, spec: ModuleSpec) -> None:
        return None  # a placeholder; exec_module swaps in the real module

    def exec_module(self, module: ModuleType) -> None:
        sys.modules[module.__name__] = importlib.import_module(MOVED[module.__name__])


def install() -> None:
    if not any(isinstance(finder, _OldPath) for finder in sys.meta_path):
        sys.meta_path.append(_OldPath())
