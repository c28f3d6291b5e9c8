"""The layering of dse's folders (docs/ARCHITECTURE.md, "Folder map"), read from the source:
every import counts, module-level or inside a function.

* ``dse/api`` imports nothing else of ``dse``: a plugin depends on the contract only;
* nothing under ``dse/`` imports a built-in plugin (by ``dse.builtin`` or the folder name);
* a built-in imports ``dse.api`` (and its own kind's modules), never discovery, tracking,
  a design point, the front or a sweeper: a user's plugin is served the same way;
* the front never runs a design point; tracking and the front import no sweeper;
* the two sweepers share one lifecycle (hydra_plugins/dse_sweep/lifecycle.py), no copy;
* each folder imports only the folders below it (``ALLOWED``);
* inside the repository nobody imports the old flat paths (``dse.pipeline``, ...): they are
  kept for outside code only (dse/_moved.py, the small files in dse/).
"""

from __future__ import annotations

import ast
from pathlib import Path

from dse import _moved

REPO = Path(__file__).resolve().parents[1]
DSE = REPO / "dse"

# What each folder of dse/ may import of dse (besides itself). Read downwards: a folder
# sees only folders listed before it. cli wires everything together.
ALLOWED: dict[str, set[str]] = {
    "api": set(),
    "runtime": {"api"},
    "front": {"api", "runtime"},
    "registry": {"api", "front"},  # front.search: the search spec a config is checked against
    "point": {"api", "registry", "runtime"},
    "tracking": {"api", "runtime", "front"},
    "testing": {"api", "registry"},
    "cli": {"api", "runtime", "registry", "point", "front", "tracking"},
}
SWEEPERS_MAY_IMPORT = {"api", "runtime", "front", "tracking"}
PUBLIC_OLD_PATHS = {"interfaces", "network", "coding", "architecture", "workload", "errors", "data"}


def imported_modules(source: str) -> list[str]:
    """Every module an import statement of ``source`` names (``from dse import x`` counts
    as ``dse.x``), at any depth of the code."""
    names: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "dse":
                names += [f"dse.{alias.name}" for alias in node.names]
            else:
                names.append(node.module)
    return names


def folder_of(module: str) -> str | None:
    """``dse.front.store`` -> ``front``; an old flat path -> the folder it moved to."""
    parts = module.split(".")
    if parts[0] != "dse" or len(parts) < 2:
        return None
    if module in _moved.MOVED:
        return _moved.MOVED[module].split(".")[1]
    if parts[1] in PUBLIC_OLD_PATHS:
        return "api"
    return parts[1]


def own_sources() -> list[Path]:
    """dse's own modules: not the built-ins or configs linked in as dse/builtin, dse/conf."""
    return [
        path
        for path in sorted(DSE.rglob("*.py"))
        if not {"builtin", "conf"} & set(path.relative_to(DSE).parts)
    ]


def folder_violations(path: Path, source: str) -> list[str]:
    """The imports of one module under dse/ that its folder may not make."""
    parts = path.relative_to(DSE).parts
    if len(parts) == 1:  # dse/__init__.py, dse/_moved.py and the public old-path files
        return []
    folder = parts[0]
    allowed = ALLOWED[folder] | {folder}
    found = []
    for module in imported_modules(source):
        if module.startswith(("plugins", "hydra_plugins")):
            found.append(f"{path.relative_to(REPO)} imports {module}")
        target = folder_of(module)
        if target is not None and target not in allowed:
            found.append(f"{path.relative_to(REPO)} ({folder}) imports {module}")
    return found


def test_every_folder_of_dse_is_in_the_layering() -> None:
    folders = {p.name for p in DSE.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    folders -= {"builtin"}  # the built-in plugins (a link to plugins/), checked below
    assert folders == set(ALLOWED), folders ^ set(ALLOWED)


def test_each_folder_imports_only_the_folders_below_it() -> None:
    sources = own_sources()
    assert DSE / "api" / "network.py" in sources and DSE / "front" / "store.py" in sources
    found = [v for path in sources for v in folder_violations(path, path.read_text())]
    assert not found, found


def test_api_imports_nothing_else_of_dse() -> None:
    for path in sorted((DSE / "api").glob("*.py")):
        others = [
            m for m in imported_modules(path.read_text()) if folder_of(m) not in (None, "api")
        ]
        assert not others, f"{path.relative_to(REPO)} imports {others}"


def test_front_and_tracking_never_run_a_design_point_nor_import_a_sweeper() -> None:
    for folder in ("front", "tracking"):
        for path in sorted((DSE / folder).glob("*.py")):
            for module in imported_modules(path.read_text()):
                assert folder_of(module) not in ("point", "cli"), (path, module)
                assert not module.startswith("hydra_plugins"), (path, module)


def test_builtins_import_the_api_only() -> None:
    sources = sorted((REPO / "plugins").rglob("*.py"))
    assert len(sources) > 20  # the six kinds' modules were found
    found = []
    for path in sources:
        kind = path.relative_to(REPO / "plugins").parts[0]
        for module in imported_modules(path.read_text()):
            parts = module.split(".")
            if module.startswith(("hydra_plugins", "plugins")):
                found.append(f"{path.relative_to(REPO)} imports {module}")
            elif parts[0] != "dse" or len(parts) == 1:
                continue
            elif parts[1] == "builtin":
                # another kind's public modules are fine; its private ones are not
                if len(parts) > 3 and parts[2] != kind and parts[3].startswith("_"):
                    found.append(f"{path.relative_to(REPO)} imports {module}")
            elif parts[1] != "conf" and folder_of(module) != "api":
                found.append(f"{path.relative_to(REPO)} imports {module}")
    assert not found, found


def test_sweepers_reach_dse_through_tracking_and_the_front() -> None:
    sources = sorted((REPO / "hydra_plugins").rglob("*.py"))
    assert any(p.name == "dse_optuna_sweeper.py" for p in sources)
    found = [
        f"{path.relative_to(REPO)} imports {module}"
        for path in sources
        for module in imported_modules(path.read_text())
        if folder_of(module) not in (None, *SWEEPERS_MAY_IMPORT)
    ]
    assert not found, found


def test_the_repository_uses_no_old_flat_path() -> None:
    old = set(_moved.MOVED) | {f"dse.{name}" for name in PUBLIC_OLD_PATHS}
    sources = [
        *(p for p in own_sources() if len(p.relative_to(DSE).parts) > 1),
        *(REPO / "plugins").rglob("*.py"),
        *(REPO / "hydra_plugins").rglob("*.py"),
    ]
    found = [
        f"{path.relative_to(REPO)} imports {module}"
        for path in sources
        for module in imported_modules(path.read_text())
        if module in old
    ]
    assert not found, found


def test_the_rules_catch_crossing_imports() -> None:
    """The checks above find the imports they exist to refuse, function-level ones too."""
    front = DSE / "front" / "store.py"
    crossing = (
        "def f():\n    from dse.point.pipeline import DesignPoint\n    import hydra_plugins.x\n"
    )
    assert len(folder_violations(front, crossing)) == 2
    assert folder_violations(DSE / "api" / "network.py", "from dse import tracking\n")
    assert folder_violations(DSE / "api" / "coding.py", "from dse.pipeline import X\n")
    assert folder_violations(DSE / "point" / "cache.py", "import plugins.codings\n")
    assert not folder_violations(DSE / "point" / "cache.py", "from dse.api.errors import require\n")
    assert imported_modules("from dse import report, tracking\n") == ["dse.report", "dse.tracking"]


def test_the_sweepers_share_one_lifecycle() -> None:
    """Signals, the preflight, the parent run and a job's result live in
    hydra_plugins/dse_sweep/lifecycle.py only: both sweepers call it, neither keeps a copy."""
    plugins = REPO / "hydra_plugins"
    lifecycle = plugins / "dse_sweep" / "lifecycle.py"
    duties = ("signals_interrupt", "dse_preflight", "open_sweep_parent", "multirun.yaml")
    duties += ("JobStatus", "return_value")
    for sweeper in ("dse_grid_sweeper", "dse_optuna_sweeper"):
        sources = sorted((plugins / sweeper).glob("*.py"))
        assert any(
            "hydra_plugins.dse_sweep.lifecycle" in imported_modules(p.read_text())
            or "hydra_plugins.dse_sweep" in imported_modules(p.read_text())
            for p in sources
        ), sweeper
        copies = [
            f"{p.relative_to(REPO)}: {d}" for p in sources for d in duties if d in p.read_text()
        ]
        assert not copies, copies
    assert all(d in lifecycle.read_text() for d in ("signals_interrupt", "dse_preflight"))
    # the public Optuna sweeper is a thin class over its implementation modules (as Hydra's)
    public = plugins / "dse_optuna_sweeper" / "dse_optuna_sweeper.py"
    assert len(public.read_text().splitlines()) < 120
