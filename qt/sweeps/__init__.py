"""Sweeps at scale: unique run folders, qt's Ray launcher and Optuna sweeper (in ``hydra_plugins/qt_sweeps``)."""
