"""``hydra/sweeper=optuna``: an Optuna study over Hydra's sweep syntax, on current Optuna.

qt's own sweeper (the official hydra-optuna-sweeper pins Optuna 2.10). Every trial is one
run launched through the configured launcher (basic, joblib, ray, submitit), in the
folder ``<sweep dir>/<trial number>``; its objective is read from the run's
``metrics.json`` or ``performance.json`` (top-level ``objective=`` and ``direction=``).
A run that fails is told to the study as a failed trial and the search goes on.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

log = logging.getLogger(__name__)


class OptunaSweeper(Sweeper):
    """Ask Optuna for parameters, run them, tell it the objective (options in ``conf/hydra/sweeper/optuna.yaml``)."""

    def __init__(
        self,
        *,
        n_trials: int = 20,
        n_jobs: int = 1,
        sampler: str = "tpe",
        seed: int | None = None,
        study_name: str | None = None,
        storage: str | None = None,
        params: dict[str, str] | None = None,
    ) -> None:
        self.n_trials = int(n_trials)
        self.n_jobs = int(n_jobs) if int(n_jobs) > 0 else (os.cpu_count() or 1)  # -1 (joblib's 'all'): every core
        self.sampler = sampler
        self.seed = seed
        self.study_name = study_name
        self.storage = storage
        self.params = dict(params or {})
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None
        self.launcher: Any = None
        self.fixed_hydra: list[str] = []  # hydra.* overrides every trial gets (the study's folder)

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        """Name the study and, unless ``hydra.sweep.dir`` was given, make its folder ``outputs/optuna/<study>``."""
        from qt.sweeps.study import default_study_name

        self.config = config
        self.hydra_context = hydra_context
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )
        objective = str(OmegaConf.select(config, "objective", default="sharpe"))
        if not self.study_name:
            strategy = OmegaConf.select(config, "hydra.runtime.choices.strategy", default=None)
            task = [str(o) for o in config.hydra.overrides.task]
            self.study_name = default_study_name(strategy, objective, task + self._param_overrides())
        user_dir = any(str(o).startswith("hydra.sweep.dir=") for o in config.hydra.overrides.hydra)
        if not user_dir:  # a stable folder, so the same command resumes the same study
            sweep_dir = f"outputs/optuna/{self.study_name}"
            with read_write(config.hydra), open_dict(config.hydra):
                config.hydra.sweep.dir = sweep_dir
            self.fixed_hydra = [f"hydra.sweep.dir={sweep_dir}"]  # launchers compose each job afresh

    def _param_overrides(self) -> list[str]:
        return [f"{k}={v}" for k, v in self.params.items()]

    def sweep(self, arguments: list[str]) -> None:
        """Run ``n_trials`` trials (``n_jobs`` at a time), then write optuna.json beside the runs."""
        import optuna

        from qt.sweeps.search_space import parse_search_space
        from qt.sweeps.study import make_sampler, open_study, storage_url, write_summary

        assert self.config is not None and self.launcher is not None
        objective = str(OmegaConf.select(self.config, "objective", default="sharpe"))
        direction = str(OmegaConf.select(self.config, "direction", default="maximize"))
        space, fixed = parse_search_space([*self._param_overrides(), *arguments])
        if not space:
            from qt.errors import ConfigError

            raise ConfigError(
                "hydra.sweeper",
                "nothing to search: give a range, e.g. 'strategy.params.lookback=int(interval(21,252))'",
            )
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        storage = storage_url(self.storage, sweep_dir)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        sampler = make_sampler(self.sampler, seed=self.seed, search_space=space)
        assert self.study_name is not None
        study = open_study(name=self.study_name, storage=storage, sampler=sampler, direction=direction)
        log.info(
            "Optuna study %s (%s, %s %s): %d trials so far, running %d more; runs in %s",
            self.study_name,
            self.sampler,
            direction,
            objective,
            len(study.trials),
            self.n_trials,
            sweep_dir,
        )
        job_idx, left = 0, self.n_trials
        while left > 0:
            batch = [study.ask(space) for _ in range(min(self.n_jobs, left))]
            overrides = [self._overrides(trial, [*fixed, *self.fixed_hydra]) for trial in batch]
            results = self.launcher.launch(overrides, initial_job_idx=job_idx)
            exhausted = False
            for trial, result in zip(batch, results, strict=True):
                exhausted |= self._tell(study, trial, result, sweep_dir, objective)
            job_idx += len(batch)
            left -= len(batch)
            if exhausted:
                log.info("sampler=grid: every point of the grid has been run")
                break
        write_summary(study, sweep_dir, objective=objective, storage=storage, sampler=self.sampler)
        done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        if done:
            best = study.best_trial
            log.info("best trial %d: %s=%.4g with %s", best.number, objective, best.value, best.params)

    @staticmethod
    def _overrides(trial: Any, fixed: list[str]) -> list[str]:
        """The trial's overrides: the fixed ones, its parameters, and its folder named by its trial number."""
        from qt.sweeps.search_space import override_value

        params = [f"{k}={override_value(v)}" for k, v in trial.params.items()]
        return [*fixed, *params, f"hydra.sweep.subdir={trial.number}"]

    @staticmethod
    def _tell(study: Any, trial: Any, result: Any, sweep_dir: Path, objective: str) -> bool:
        """Tell the study the run's objective, or that the trial failed; True when a grid is exhausted."""
        from hydra.core.utils import JobStatus
        from optuna.trial import TrialState

        from qt.sweeps.study import objective_value

        run_dir = sweep_dir / str(trial.number)
        trial.set_user_attr("run_dir", str(run_dir))
        if result.status == JobStatus.FAILED:
            error: str | None = f"{type(result._return_value).__name__}: {result._return_value}"
            value = None
        else:
            try:
                value, error = objective_value(run_dir, objective)
            except Exception:  # an objective no run has: fail this trial, then stop with the message
                study.tell(trial, state=TrialState.FAIL)
                raise
        try:
            if value is None:
                trial.set_user_attr("error", error)
                study.tell(trial, state=TrialState.FAIL)
                log.warning("trial %d failed: %s", trial.number, error)
            else:
                study.tell(trial, value)
        except RuntimeError as exc:  # GridSampler stops the study once its grid is done (the trial is recorded)
            if "Study.stop" not in str(exc):
                raise
            return True
        return False
