"""Plugins meet through dse's public API: a built-in plugin imports only its own kind's
private modules, and dse/ imports no plugin code by the checkout's folder name."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PRIVATE = re.compile(r"^\s*(?:from|import)\s+dse\.builtin\.(\w+)\.(_\w+)", re.M)
BY_FOLDER = re.compile(r"^\s*(?:from|import)\s+plugins\b", re.M)


def test_no_plugin_imports_another_kinds_private_module() -> None:
    sources = sorted((REPO / "plugins").glob("*/*.py"))
    assert len(sources) > 20  # the six kinds' modules were found
    crossing = [
        f"{path.relative_to(REPO)} imports dse.builtin.{kind}.{module}"
        for path in sources
        for kind, module in PRIVATE.findall(path.read_text())
        if kind != path.parent.name
    ]
    assert not crossing, crossing


def test_dse_imports_no_plugin_folder() -> None:
    own = [
        path
        for path in (REPO / "dse").rglob("*.py")
        if not {"builtin", "conf"} & set(path.relative_to(REPO / "dse").parts)
    ]
    assert (REPO / "dse" / "network.py") in own
    offending = [str(p.relative_to(REPO)) for p in own if BY_FOLDER.search(p.read_text())]
    assert not offending, offending


def test_the_rule_catches_a_crossing_import() -> None:
    """The pattern the first test relies on finds the import this refactoring removed."""
    line = "from dse.builtin.training._network import LayerParams, Network\n"
    assert PRIVATE.findall(line) == [("training", "_network")]
    assert BY_FOLDER.search("from plugins.codings import rate\n")
