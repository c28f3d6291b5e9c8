"""A toy Hydra app (tests/sweepers/toy_app.py) for the sweepers and the front's stores: its path, its config (Optuna
sweeper, MLflow in the test's folder) and the runs it recorded."""

from __future__ import annotations

from pathlib import Path

# A Hydra app that returns made-up metrics. It runs as a script, so it lives in a folder
# whose module names shadow no library (tests/support has a datasets.py).
APP = Path(__file__).resolve().parents[1] / "sweepers" / "toy_app.py"


CONFIG = """\
defaults:
  - override hydra/sweeper: dse_optuna
  - _self_
seed: 0
x: 1
y: 0.5
fail_trial: -1
cheat_trial: -1
paths:
  outputs: {out}
tracking:
  uri: sqlite:///${{paths.outputs}}/mlflow.db
  experiment: toy
  run_name: null
  tags: {{}}
search:
  objectives:
    - {{metric: snn_accuracy, direction: maximize}}
    - {{metric: energy_uj, direction: minimize}}
  constraints: ["area_mm2 <= 2"]
hydra:
  sweep:
    dir: ${{paths.outputs}}/multirun/${{now:%H-%M-%S-%f}}
  callbacks:
    sweep_tracking:
      _target_: dse.tracking.SweepCallback
  sweeper:
    n_trials: 4
    params:
      x: range(1, 9)
      y: interval(0, 1)
"""


def children(out: Path):
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{out}/mlflow.db")
    exp = client.get_experiment_by_name("toy").experiment_id
    parents = client.search_runs([exp], "tags.`dse.kind` = 'sweep'")
    return (
        client,
        parents,
        [
            r
            for p in parents
            for r in client.search_runs([exp], f"tags.mlflow.parentRunId = '{p.info.run_id}'")
        ],
    )
