"""``hydra/launcher=joblib``: a sweep's runs on warm joblib (loky) worker processes of this machine.

Hydra's joblib launcher with what a research sweep needs: the workers are started once
and keep their imports, Hydra's state, composed configs (qt.sweeps.compose) and loaded
data (qt.data.sources.memo) from run to run; with more than one worker each uses one
BLAS thread (qt.sweeps.workers); Ctrl-C abandons the running runs (their workers are
stopped) and the sweeper writes the leaderboard of the finished ones.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from hydra.core.config_search_path import ConfigSearchPath
from hydra.core.config_store import ConfigStore
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, configure_log, filter_overrides, setup_globals
from hydra.plugins.search_path_plugin import SearchPathPlugin
from hydra.types import HydraContext, TaskFunction
from hydra_plugins.hydra_joblib_launcher import config as _hydra_joblib_config  # registers Hydra's first
from hydra_plugins.hydra_joblib_launcher._core import process_joblib_cfg
from hydra_plugins.hydra_joblib_launcher.joblib_launcher import JoblibLauncher as HydraJoblibLauncher
from omegaconf import DictConfig

log = logging.getLogger(__name__)


# Hydra's joblib options (``hydra.launcher.n_jobs``: worker processes, -1 every core, -2 all but one; the backend is
# always loky), with qt's launcher as the target
OPTIONS = {**asdict(_hydra_joblib_config.JobLibLauncherConf()), "_target_": f"{__name__}.JoblibLauncher"}


class QtJoblibDefaults(SearchPathPlugin):
    """Registers qt's ``joblib`` once every plugin module is loaded (after Hydra's own, whatever the import order)."""

    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        """The same name as Hydra's plugin: ``hydra/launcher=joblib`` chooses qt's launcher; the path is left as is."""
        ConfigStore.instance().store(group="hydra/launcher", name="joblib", node=OPTIONS, provider="qt")


def _check_options(options: dict[str, Any]) -> None:
    """``hydra.launcher.*`` of joblib: each number in its range, named with what to write (ConfigError)."""
    from qt.errors import ConfigError

    def whole(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    n_jobs = options.get("n_jobs", -1)
    if not whole(n_jobs) or n_jobs == 0:
        raise ConfigError(
            "hydra.launcher.n_jobs",
            f"write a number of worker processes >= 1, or -1 for every core (-2: all but one), got {n_jobs!r}",
        )
    timeout = options.get("timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0):
        raise ConfigError("hydra.launcher.timeout", f"write seconds > 0 per run (or null: no limit), got {timeout!r}")
    batch = options.get("batch_size", "auto")
    if batch != "auto" and not (whole(batch) and batch >= 1):
        raise ConfigError("hydra.launcher.batch_size", f"write auto or a whole number >= 1, got {batch!r}")
    verbose = options.get("verbose", 0)
    if not (whole(verbose) and verbose >= 0):
        raise ConfigError("hydra.launcher.verbose", f"write a whole number >= 0, got {verbose!r}")


_STATE: dict[str, Any] = {"token": None}  # in a worker: the sweep whose Hydra state is set


class JoblibLauncher(HydraJoblibLauncher):
    """Runs a sweep's jobs with ``joblib.Parallel`` (options as Hydra's joblib launcher: ``hydra.launcher.n_jobs``...)."""

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        """Refuse joblib options that cannot be meant (``n_jobs=0``, a timeout <= 0), before anything is written."""
        _check_options(dict(self.joblib))
        super().setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        """Run the jobs on the workers; their results in job order."""
        from joblib import Parallel, delayed

        from qt.sweeps.workers import joblib_workers, pin_blas_threads

        setup_globals()
        assert self.config is not None and self.task_function is not None and self.hydra_context is not None
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        options = dict(self.joblib)
        options["backend"] = "loky"  # the threading backend cannot run Hydra jobs
        process_joblib_cfg(options)
        pin_blas_threads(joblib_workers(options.get("n_jobs", -1), len(job_overrides)).count)
        log.info(
            "Joblib.Parallel(%s) is launching %d jobs",
            ",".join(f"{k}={v}" for k, v in options.items()),
            len(job_overrides),
        )
        for idx, overrides in enumerate(job_overrides):
            log.info("\t#%d : %s", initial_job_idx + idx, " ".join(filter_overrides(overrides)))
        token = str(getattr(self.hydra_context.config_loader, "token", id(self)))
        state = Singleton.get_state()
        runs = Parallel(**options)(
            delayed(_execute)(
                initial_job_idx + idx, overrides, self.hydra_context, self.config, self.task_function, state, token
            )
            for idx, overrides in enumerate(job_overrides)
        )
        return list(runs)


def _execute(
    idx: int,
    overrides: Sequence[str],
    hydra_context: HydraContext,
    config: DictConfig,
    task_function: TaskFunction,
    singleton_state: dict[Any, Any],
    token: str,
) -> JobReturn:
    """In a worker: one job (Hydra's state is set once per worker and sweep, not per job)."""
    if _STATE["token"] != token:
        # Ctrl-C is the driver's to handle (it stops launching and ends the workers): a worker that took the
        # process group's SIGINT between two jobs printed multiprocessing's traceback
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        setup_globals()
        Singleton.set_state(singleton_state)
        _STATE["token"] = token
    from qt.sweeps.job import run_sweep_job

    sweep_config = hydra_context.config_loader.load_sweep_config(config, list(overrides))
    return run_sweep_job(
        hydra_context=hydra_context,
        config=sweep_config,
        task_function=task_function,
        idx=idx,
        job_id=f"{sweep_config.hydra.job.name}_{idx}",
    )
