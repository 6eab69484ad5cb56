"""``hydra/launcher=ray``: every run of a sweep as one Ray task, on a local Ray or an existing cluster.

qt's own launcher over Ray's public API (``ray.init``, ``@ray.remote``), because the
official hydra-ray-launcher forces cloudpickle<3. The driver composes each run's config
(Hydra's ``load_sweep_config``) and ships the config and the code, never the data: each
task calls Hydra's ``run_job`` with the job's config, so the run loads its data through
its data source (a store or a file path the worker can reach) as any run does.

Each run's ``run.log`` names the Ray node, host and process that ran it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, configure_log, filter_overrides, setup_globals
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict

log = logging.getLogger(__name__)


class RayLauncher(Launcher):
    """Runs a sweep's jobs as Ray tasks (``hydra/launcher=ray``; options in ``conf/hydra/launcher/ray.yaml``)."""

    def __init__(
        self,
        *,
        address: str | None = None,
        num_cpus: int | None = None,
        temp_dir: str | None = None,
        include_dashboard: bool = False,
        log_to_driver: bool = True,
        runtime_env: dict[str, Any] | None = None,
        task: dict[str, Any] | None = None,
        connect_timeout_s: float = 10.0,
    ) -> None:
        self.address = address
        self.connect_timeout_s = connect_timeout_s
        self.num_cpus = num_cpus
        self.temp_dir = temp_dir
        self.include_dashboard = include_dashboard
        self.log_to_driver = log_to_driver
        self.runtime_env = _plain(runtime_env)
        self.task = _plain(task)
        self.config: DictConfig | None = None
        self.task_function: TaskFunction | None = None
        self.hydra_context: HydraContext | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        """Keep the sweep's context; without Ray installed, stop with the command that installs it."""
        try:
            import ray  # noqa: F401
        except ImportError:
            from hydra_plugins.qt_sweeps.missing_extra import missing_extra

            raise missing_extra("ray", "ray") from None
        self._check_settings()
        self.config = config
        self.task_function = task_function
        self.hydra_context = hydra_context

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        import ray

        assert self.config is not None and self.task_function is not None and self.hydra_context is not None
        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        self._init_ray()
        log.info("Ray launcher: %d jobs on %s, sweep output dir: %s", len(job_overrides), _cluster(), sweep_dir)
        shared = ray.put((self.hydra_context, self.task_function, Singleton.get_state(), os.getcwd()))
        remote = ray.remote(_run_job).options(**_task_options(self.task))
        refs = []
        for i, overrides in enumerate(job_overrides):
            idx = initial_job_idx + i
            log.info("\t#%d : %s", idx, " ".join(filter_overrides(overrides)))
            sweep_config = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
            with open_dict(sweep_config):
                sweep_config.hydra.job.id = f"{sweep_config.hydra.job.name}_{idx}"
                sweep_config.hydra.job.num = idx
            refs.append((remote.remote(sweep_config, shared), sweep_config))
        return [_result(ref, sweep_config) for ref, sweep_config in refs]

    def _check_settings(self) -> None:
        """Refuse what cannot be meant, and an address where no cluster answers, before anything is written."""
        from qt.errors import ConfigError

        if not (isinstance(self.connect_timeout_s, (int, float)) and 0 < self.connect_timeout_s <= 120):
            raise ConfigError(
                "hydra.launcher.connect_timeout_s", f"write seconds in (0, 120], got {self.connect_timeout_s!r}"
            )
        if self.num_cpus is not None and not (isinstance(self.num_cpus, int) and self.num_cpus >= 1):
            raise ConfigError(
                "hydra.launcher.num_cpus",
                f"write a whole number of CPUs >= 1 (or null: every core), got {self.num_cpus!r}",
            )
        for name, low in (("num_cpus", 0), ("max_retries", -1)):
            value = self.task.get(name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < low):
                raise ConfigError(f"hydra.launcher.task.{name}", f"write a number >= {low}, got {value!r}")
        if self.address:
            from hydra_plugins.qt_sweeps.ray_address import check_answers

            check_answers(str(self.address), float(self.connect_timeout_s))

    def _init_ray(self) -> None:
        """Start a local Ray sized to this machine (``address`` null) or join the cluster at ``address``."""
        import ray

        if ray.is_initialized():
            return
        env = dict(self.runtime_env)
        env_vars = {**_ONE_THREAD, **dict(env.pop("env_vars", None) or {})}
        options: dict[str, Any] = {
            "runtime_env": {**env, "env_vars": env_vars},
            "log_to_driver": self.log_to_driver,
            "configure_logging": False,
        }
        if self.address:
            ray.init(address=self.address, **options)
            return
        ray.init(
            num_cpus=self.num_cpus,
            include_dashboard=self.include_dashboard,
            _temp_dir=str(Path(self.temp_dir).resolve()) if self.temp_dir else None,
            **options,
        )


def _plain(value: Any) -> dict[str, Any]:
    """A config mapping as plain Python (Ray's options reject DictConfig/ListConfig)."""
    if isinstance(value, DictConfig):
        value = OmegaConf.to_container(value, resolve=True)
    return dict(value or {})


# one BLAS / OpenMP thread per run: a sweep's parallelism is across runs, not inside one
_ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def _task_options(task: dict[str, Any]) -> dict[str, Any]:
    """Ray ``.options()`` of each run's task from ``hydra.launcher.task`` (defaults: 1 CPU, no retries)."""
    options = {"num_cpus": 1, "max_retries": 0, **{k: v for k, v in task.items() if v is not None}}
    return options


def _cluster() -> str:
    import ray

    resources = ray.cluster_resources()
    return f"{len(ray.nodes())} node(s), {resources.get('CPU', 0):g} CPUs"


def _run_job(sweep_config: DictConfig, shared: tuple[HydraContext, TaskFunction, Any, str]) -> JobReturn:
    """Inside a Ray worker: Hydra's ``run_job`` for one job, in the driver's folder when this host has it."""
    import sys

    from hydra.core.hydra_config import HydraConfig
    from hydra.core.utils import run_job

    hydra_context, task_function, singleton_state, driver_cwd = shared
    setup_globals()
    Singleton.set_state(singleton_state)
    if os.path.isdir(driver_cwd) and "working_dir" not in _runtime_env():
        os.chdir(driver_cwd)  # same relative paths (outputs/, data files, strategies/) as the driver
        if driver_cwd not in sys.path:
            sys.path.insert(0, driver_cwd)
    HydraConfig.instance().set_config(sweep_config)
    return run_job(
        hydra_context=hydra_context,
        config=sweep_config,
        task_function=_traced(task_function),
        job_dir_key="hydra.sweep.dir",
        job_subdir_key="hydra.sweep.subdir",
    )


def _runtime_env() -> dict[str, Any]:
    import ray

    try:
        return dict(ray.get_runtime_context().runtime_env or {})
    except Exception:  # outside a Ray task (never in practice)
        return {}


def _traced(task_function: TaskFunction) -> TaskFunction:
    """The task function, first logging (to the run's run.log) which Ray node, host and process runs it."""
    import socket

    def traced(cfg: DictConfig) -> Any:
        import ray

        node = ray.get_runtime_context().get_node_id()
        logging.getLogger("qt.sweeps").info(
            "ray worker: node %s host %s pid %d", node, socket.gethostname(), os.getpid()
        )
        return task_function(cfg)

    return traced


def _result(ref: Any, sweep_config: DictConfig) -> JobReturn:
    """The job's JobReturn; a task that died (worker lost, cannot unpickle) leaves error.json and returns None."""
    import ray

    try:
        ret = ray.get(ref)
    except Exception as exc:
        run_dir = Path(str(sweep_config.hydra.sweep.dir)) / str(sweep_config.hydra.sweep.subdir)
        message = f"ray task failed: {type(exc).__name__}: {exc}"
        log.error("run %s: %s", sweep_config.hydra.job.num, message)
        _record_error(run_dir, sweep_config, message, exc)
        ret = JobReturn(overrides=list(sweep_config.hydra.overrides.task), cfg=sweep_config, hydra_cfg=sweep_config)
        ret.status = JobStatus.COMPLETED
        ret.return_value = None
    assert isinstance(ret, JobReturn)
    return ret


def _record_error(run_dir: Path, sweep_config: DictConfig, message: str, exc: BaseException) -> None:
    """error.json (as qt.app writes it) and .hydra/overrides.yaml, so the leaderboard lists the failed run."""
    import json
    import traceback

    (run_dir / ".hydra").mkdir(parents=True, exist_ok=True)
    overrides = run_dir / ".hydra" / "overrides.yaml"
    if not overrides.is_file():
        OmegaConf.save(OmegaConf.create(list(sweep_config.hydra.overrides.task)), overrides)
    record = {"error": message, "type": type(exc).__name__, "traceback": "".join(traceback.format_exception(exc))}
    (run_dir / "error.json").write_text(json.dumps(record, indent=2) + "\n")
