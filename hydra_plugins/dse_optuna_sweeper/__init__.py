"""A Hydra sweeper that runs a multi-objective Optuna (>= 4) study over design points.

Select it with ``override hydra/sweeper: dse_optuna``; see
:class:`hydra_plugins.dse_optuna_sweeper.dse_optuna_sweeper.DseOptunaSweeper`.
"""
