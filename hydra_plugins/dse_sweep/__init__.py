"""What dse's two sweepers (dse_grid, dse_optuna) share: the lifecycle of a sweep
(``lifecycle``: checks before anything opens, the parent run, a job's result, Ctrl-C and
SIGTERM). Holds no Hydra plugin."""
