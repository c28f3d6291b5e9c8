"""The private parts of the libraries dse relies on, one small module per library
(``hydra``, ``mlflow``, ``optuna``), so a library's change underneath shows in one place.
Each name here is either a public API wrapped so its callers stay short, or a reach-in no
public API replaces (said at each); ``tests/runtime/test_adapters.py`` pins every reach-in
and fails with the name of what moved. Imports the libraries inside the functions, so this
package costs nothing to import."""
