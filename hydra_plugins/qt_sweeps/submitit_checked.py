"""``hydra/launcher=submitit_local|submitit_slurm``: the plugin's launchers, refusing numbers that cannot be meant.

hydra-submitit-launcher passes ``timeout_min=0`` or ``tasks_per_node=0`` on to submitit, which
fails mid-sweep with an AssertionError or an AttributeError (exit 3), or runs with
``cpus_per_task=0`` as if nothing were wrong. These subclasses check every count and size in
``setup``, before anything is written, and name the key. (No ``from __future__ import
annotations``: Hydra imports plugin modules outside ``sys.modules``.)
"""

from typing import Any

try:
    from hydra_plugins.hydra_submitit_launcher import submitit_launcher as plugin
except ImportError:  # the submitit extra is not installed: submitit_slurm.py registers what says so
    plugin = None

# key: (lowest allowed, whether null is allowed)
RANGES = {
    "timeout_min": (1, False),
    "cpus_per_task": (1, True),
    "gpus_per_node": (0, True),
    "tasks_per_node": (1, False),
    "mem_gb": (1, True),
    "nodes": (1, False),
    "cpus_per_gpu": (1, True),
    "gpus_per_task": (0, True),
    "signal_delay_s": (0, False),
    "max_num_timeout": (0, False),
    "array_parallelism": (1, False),
}


def check_params(params: dict[str, Any]) -> None:
    """Each count and size of ``hydra.launcher`` in its range; ConfigError naming the first that is not.

    Examples
    --------
    >>> check_params({"timeout_min": 60, "cpus_per_task": None, "nodes": 1})
    >>> check_params({"timeout_min": 0})
    Traceback (most recent call last):
    qt.errors.ConfigError: hydra.launcher.timeout_min: write a whole number >= 1, got 0
    """
    from qt.errors import ConfigError

    for key, (low, nullable) in RANGES.items():
        if key not in params:
            continue
        value = params[key]
        if value is None and nullable:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            hint = " (or null)" if nullable else ""
            raise ConfigError(f"hydra.launcher.{key}", f"write a whole number >= {low}{hint}, got {value!r}")


if plugin is not None:

    class LocalLauncher(plugin.LocalLauncher):  # type: ignore[misc, valid-type]
        """``submitit_local`` with its numbers checked before the sweep starts."""

        def setup(self, **kwargs: Any) -> None:
            check_params(self.params)
            super().setup(**kwargs)

    class SlurmLauncher(plugin.SlurmLauncher):  # type: ignore[misc, valid-type]
        """``submitit_slurm`` with its numbers checked before the sweep starts."""

        def setup(self, **kwargs: Any) -> None:
            check_params(self.params)
            super().setup(**kwargs)
