"""qt's sweep plugins for Hydra: a Ray launcher and an Optuna sweeper over current releases.

Importing this package (Hydra imports every ``hydra_plugins`` module when it scans for
plugins, and workers import it when they unpickle a launcher) registers
``${qt.run_id:}``, the resolver the default output folders end with.
"""

from qt.sweeps.run_id import register

register()
