"""A Hydra launcher that runs a sweep's jobs in this process, composing each config once.

Select it with ``hydra/launcher=dse_local`` (the dse default); see
:class:`hydra_plugins.dse_launcher.dse_launcher.DseLocalLauncher`.
"""
