"""snn-dse's tests: one folder per folder of dse/ (api, registry, point, front, tracking,
runtime, cli, testing), builtin/<kind> for the built-in plugins, sweepers/ for
hydra_plugins/, scaleout/ for several workers on shared stores. Helpers more than one
folder uses live in tests/support (imported as ``tests.support``: tests is a package, so
pytest puts the repository root on the path and nothing edits sys.path)."""
