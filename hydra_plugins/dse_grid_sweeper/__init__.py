"""Hydra's grid sweeper, with a failed job reported as a design-space sweep needs it.

``dse -m`` uses it by default (``override hydra/sweeper: dse_grid`` in conf/config.yaml);
see :class:`hydra_plugins.dse_grid_sweeper.dse_grid_sweeper.DseGridSweeper`.
"""
