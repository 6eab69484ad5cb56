"""``hydra/launcher=submitit_slurm`` with qt's defaults: one CPU and 4 GB per run, one BLAS thread.

hydra-submitit-launcher (the ``submitit`` extra) registers ``submitit_slurm`` as a structured
config; this module re-registers it under the same name with qt's defaults, so the options
stay the plugin's (``hydra.launcher.partition=...``, ``account``, ``additional_parameters``...)
and no YAML shadows the schema. Without the extra installed, ``submitit_local`` and
``submitit_slurm`` are registered as launchers that say in one line what to install. (No
``from __future__ import annotations``: Hydra imports plugin modules outside ``sys.modules``
and dataclasses must then read real annotations.)
"""

from dataclasses import dataclass, field

from hydra.core.config_search_path import ConfigSearchPath
from hydra.core.config_store import ConfigStore
from hydra.plugins.search_path_plugin import SearchPathPlugin

try:
    from hydra_plugins.hydra_submitit_launcher.config import LocalQueueConf, SlurmQueueConf
except ImportError:  # the submitit extra is not installed
    LocalQueueConf = SlurmQueueConf = None

CHECKED = "hydra_plugins.qt_sweeps.submitit_checked"  # the plugin's launchers, refusing numbers out of range


if SlurmQueueConf is not None:

    @dataclass
    class QtSlurmConf(SlurmQueueConf):  # type: ignore[misc, valid-type]
        """Each run of a sweep as one job of a SLURM array, sized for one qt backtest."""

        _target_: str = f"{CHECKED}.SlurmLauncher"
        cpus_per_task: int | None = 1  # runs use one BLAS thread; raise it for meanvar on big universes
        mem_gb: int | None = 4  # a 500 x 5,000 run peaks near 600 MB
        timeout_min: int = 60
        setup: list[str] | None = field(
            default_factory=lambda: ["export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1"]
        )

    @dataclass
    class QtLocalConf(LocalQueueConf):  # type: ignore[misc, valid-type]
        """``submitit_local`` as the plugin has it, with its numbers checked."""

        _target_: str = f"{CHECKED}.LocalLauncher"


class QtSlurmDefaults(SearchPathPlugin):
    """Registers qt's ``submitit_slurm`` once every plugin module is loaded.

    Hydra loads plugin modules in path order, so the plugin's own registration may run after
    this module's import; search-path plugins run after all of them. The path is left as is.
    """

    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        store = ConfigStore.instance()
        if SlurmQueueConf is not None:
            store.store(group="hydra/launcher", name="submitit_slurm", node=QtSlurmConf, provider="qt")
            store.store(group="hydra/launcher", name="submitit_local", node=QtLocalConf, provider="qt")
            return
        for option in ("submitit_local", "submitit_slurm"):
            node = {"_target_": MISSING, "option": option, "extra": "submitit"}
            store.store(group="hydra/launcher", name=option, node=node, provider="qt")


MISSING = "hydra_plugins.qt_sweeps.missing_extra.MissingExtraLauncher"
