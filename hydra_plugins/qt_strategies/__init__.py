"""qt's Hydra plugins: the strategy folders as the ``strategy`` config group."""
