"""One job of a sweep: Hydra's ``run_job`` contract at a fraction of its per-run cost.

Hydra's ``run_job`` sets the Hydra config three times and deep-copies the job's config
twice per run (~0.1 s for qt's config, as much as a small backtest). This does the same
steps in the same order (output folder, logging, ``env_set``, callbacks, the task, the
``JobReturn``) with the Hydra config set once and copies made by pickling, which the
compose-once loader's configs allow (``qt.sweeps.compose``). qt's basic and joblib
launchers use it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, JobRuntime, JobStatus, _flush_loggers, configure_log, env_override
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from qt.sweeps.compose import copy_config


def run_sweep_job(
    *, hydra_context: HydraContext, config: DictConfig, task_function: TaskFunction, idx: int, job_id: Any
) -> JobReturn:
    """Run the sweep's job ``idx`` (its folder ``hydra.sweep.dir/hydra.sweep.subdir``) as Hydra's ``run_job`` does."""
    with open_dict(config):
        config.hydra.job.id = job_id
        config.hydra.job.num = idx
    callbacks = hydra_context.callbacks
    old_cwd = os.getcwd()
    hydra_config = HydraConfig.instance()
    previous = hydra_config.cfg
    hydra_config.set_config(config)  # the folder's keys may interpolate ${hydra:...}
    output_dir = os.path.abspath(
        os.path.join(
            str(OmegaConf.select(config, "hydra.sweep.dir")), str(OmegaConf.select(config, "hydra.sweep.subdir"))
        )
    )
    for node in (config.hydra.runtime, hydra_config.cfg.hydra.runtime):  # type: ignore[union-attr]
        with read_write(node), open_dict(node):
            node.output_dir = output_dir
    chdir = False
    try:
        ret = JobReturn()
        task_cfg = copy_config(config)
        with read_write(task_cfg), open_dict(task_cfg):
            del task_cfg["hydra"]
        ret.cfg = task_cfg
        ret.hydra_cfg = copy_config(hydra_config.cfg)  # type: ignore[arg-type]
        overrides = OmegaConf.to_container(config.hydra.overrides.task)
        assert isinstance(overrides, list)
        ret.overrides = overrides
        Path(output_dir).mkdir(parents=True, exist_ok=True)
        chdir = bool(config.hydra.job.chdir)  # qt's config sets it (false); version_base 1.3 defaults to false
        if chdir:
            os.chdir(output_dir)
            ret.working_dir = output_dir
        else:
            ret.working_dir = os.getcwd()
        configure_log(config.hydra.job_logging, config.hydra.verbose)
        if config.hydra.output_subdir is not None:
            from hydra.core.utils import _save_config

            hydra_output = Path(output_dir) / Path(config.hydra.output_subdir)
            _save_config(task_cfg, "config.yaml", hydra_output)
            _save_config(ret.hydra_cfg, "hydra.yaml", hydra_output)
            _save_config(config.hydra.overrides.task, "overrides.yaml", hydra_output)
        with env_override(ret.hydra_cfg.hydra.job.env_set):
            callbacks.on_job_start(config=config, task_function=task_function)
            try:
                ret.return_value = task_function(task_cfg)
                ret.status = JobStatus.COMPLETED
            except Exception as e:
                ret.return_value = e
                ret.status = JobStatus.FAILED
        ret.task_name = JobRuntime.instance().get("name")
        _flush_loggers()
        callbacks.on_job_end(config=config, job_return=ret)
        return ret
    finally:
        hydra_config.cfg = previous
        if chdir:
            os.chdir(old_cwd)
