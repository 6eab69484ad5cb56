"""``hydra/launcher=basic`` (the default): a sweep's runs one after another in this process, at engine speed.

Hydra's basic launcher with each job run by ``qt.sweeps.job.run_sweep_job`` (Hydra's
``run_job`` steps with the Hydra config set once and cheap copies) and composed by the
sweeper's compose-once loader. Registered under Hydra's own name, so ``hydra/launcher=basic``
and the default both choose it. (No ``from __future__ import annotations``: Hydra imports
plugin modules outside ``sys.modules``.)
"""

import logging
from collections.abc import Sequence
from pathlib import Path

from hydra._internal.core_plugins.basic_launcher import BasicLauncher as HydraBasicLauncher
from hydra.core.config_search_path import ConfigSearchPath
from hydra.core.config_store import ConfigStore
from hydra.core.utils import JobReturn, configure_log, filter_overrides, setup_globals
from hydra.plugins.search_path_plugin import SearchPathPlugin

log = logging.getLogger(__name__)


class BasicLauncher(HydraBasicLauncher):
    """Runs a sweep's jobs one after another in this process."""

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        """Compose and run each job; their results in job order."""
        from qt.sweeps.job import run_sweep_job

        setup_globals()
        assert self.hydra_context is not None and self.config is not None and self.task_function is not None
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        log.info(f"Launching {len(job_overrides)} jobs locally")
        runs = []
        for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
            log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
            config = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
            runs.append(
                run_sweep_job(
                    hydra_context=self.hydra_context,
                    config=config,
                    task_function=self.task_function,
                    idx=idx,
                    job_id=idx,
                )
            )
            configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        return runs


class QtBasicDefaults(SearchPathPlugin):
    """Registers qt's ``basic`` once every plugin module is loaded (after Hydra's own); the path is left as is."""

    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        """``hydra/launcher=basic`` chooses qt's launcher."""
        node = {"_target_": "hydra_plugins.qt_sweeps.basic_launcher.BasicLauncher"}
        ConfigStore.instance().store(group="hydra/launcher", name="basic", node=node, provider="qt")
