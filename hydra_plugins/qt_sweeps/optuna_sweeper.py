"""``hydra/sweeper=optuna``: an Optuna study over Hydra's sweep syntax, on current Optuna.

qt's own sweeper (the official hydra-optuna-sweeper pins Optuna 2.10). Every trial is one
run launched through the configured launcher (basic, joblib, ray, submitit), in the
folder ``<sweep dir>/<trial number>``; its objective is read from the run's
``metrics.json`` or ``performance.json`` (top-level ``objective=`` and ``direction=``).
A run that fails is told to the study as a failed trial and the search goes on. Running trials
beat a heartbeat in the study's storage, so a trial whose process was killed is failed when the
study is next opened (``optuna_storage``); the settings are checked before anything runs.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any

from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from qt.errors import ConfigError, interrupted_inside

log = logging.getLogger(__name__)
SAMPLERS = ("tpe", "random", "cmaes", "grid")


def _integer(key: str, value: Any, *, low: int, hint: str = "") -> int:
    """``value`` as an int >= ``low``, else a ConfigError naming ``hydra.sweeper.<key>``."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ConfigError(f"hydra.sweeper.{key}", f"must be a whole number >= {low}{hint}, got {value!r}")
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"hydra.sweeper.{key}", f"must be a whole number >= {low}{hint}, got {value!r}") from None
    if number < low:
        raise ConfigError(f"hydra.sweeper.{key}", f"must be >= {low}{hint}, got {number}")
    return number


def _refuse_intervals(arguments: list[str]) -> None:
    """``sampler=grid`` enumerates choices and ranges; an interval has no grid, so it is refused by name."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import IntervalSweep

    for override in OverridesParser.create().parse_overrides(arguments):
        if override.is_sweep_override() and isinstance(override.value(), IntervalSweep):
            raise ConfigError(
                override.get_key_element(),
                f"hydra.sweeper.sampler=grid needs choices or range(start,stop,step), not '{override.input_line}'; "
                "use e.g. range(21,253,21), or another sampler (tpe, random, cmaes) for an interval",
            )


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
        heartbeat_interval: int = 10,
        grace_period: int | None = None,
    ) -> None:
        self.raw = {
            "n_trials": n_trials,
            "n_jobs": n_jobs,
            "heartbeat_interval": heartbeat_interval,
            "grace_period": grace_period,
        }  # checked in setup(), where an error reaches the user as it is (Hydra wraps __init__'s)
        self.n_trials = 0
        self.n_jobs = 1
        self.heartbeat_interval = 10
        self.grace_period: int | None = None
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

        self._check_settings()
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

    def _check_settings(self) -> None:
        """Refuse what cannot be meant, naming ``hydra.sweeper.<key>``."""
        self.n_trials = _integer("n_trials", self.raw["n_trials"], low=1)
        jobs = _integer(
            "n_jobs", self.raw["n_jobs"], low=-1, hint=" (-1: one per core; it defaults to hydra.launcher.n_jobs)"
        )
        if jobs == 0:
            raise ConfigError("hydra.sweeper.n_jobs", "must be >= 1 or -1 (one per core), got 0")
        self.n_jobs = jobs if jobs > 0 else (os.cpu_count() or 1)
        self.heartbeat_interval = _integer("heartbeat_interval", self.raw["heartbeat_interval"], low=1)
        grace = self.raw["grace_period"]
        if grace is not None:
            self.grace_period = _integer("grace_period", grace, low=self.heartbeat_interval + 1)
        if self.seed is not None:  # numpy's range: 0 .. 2**32 - 1
            self.seed = _integer("seed", self.seed, low=0)
            if self.seed > 2**32 - 1:
                raise ConfigError("hydra.sweeper.seed", f"must be at most 2**32 - 1, got {self.seed}")
        if self.sampler not in SAMPLERS:
            raise ConfigError(
                "hydra.sweeper.sampler", f"unknown sampler '{self.sampler}'; choose one of: {', '.join(SAMPLERS)}"
            )

    def _param_overrides(self) -> list[str]:
        return [f"{k}={v}" for k, v in self.params.items()]

    def sweep(self, arguments: list[str]) -> None:
        """Run ``n_trials`` trials (``n_jobs`` at a time), then write optuna.json beside the runs."""
        import optuna

        from qt.config.secrets import masked_sweep_config
        from qt.sweeps.search_space import parse_search_space
        from qt.sweeps.study import make_sampler, open_study, storage_url, write_summary

        from .optuna_storage import Heartbeat, fail_stale_trials, open_storage

        assert self.config is not None and self.launcher is not None
        objective = str(OmegaConf.select(self.config, "objective", default="sharpe"))
        direction = str(OmegaConf.select(self.config, "direction", default="maximize"))
        if self.sampler == "grid":
            _refuse_intervals([*self._param_overrides(), *arguments])
        space, fixed = parse_search_space([*self._param_overrides(), *arguments])
        if not space:
            raise ConfigError(
                "hydra.sweeper",
                "nothing to search: give a range, e.g. 'strategy.params.lookback=int(interval(21,252))'",
            )
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(masked_sweep_config(self.config), sweep_dir / "multirun.yaml")  # never a password in clear
        storage = storage_url(self.storage, sweep_dir)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        # ask/tell with heartbeats: this sweeper beats them itself (optuna_storage.Heartbeat), as optimize() would
        warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed", category=UserWarning)
        sampler = make_sampler(self.sampler, seed=self.seed, search_space=space)
        assert self.study_name is not None
        rdb = open_storage(storage, heartbeat_interval=self.heartbeat_interval, grace_period=self.grace_period)
        study = open_study(name=self.study_name, storage=rdb, sampler=sampler, direction=direction)
        fail_stale_trials(study, rdb)  # trials of a killed process: failed, so the study goes on without them
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
            fail_stale_trials(study, rdb)
            batch = [study.ask(space) for _ in range(min(self.n_jobs, left))]
            overrides = [self._overrides(trial, [*fixed, *self.fixed_hydra]) for trial in batch]
            try:
                with Heartbeat(rdb, [t._trial_id for t in batch], self.heartbeat_interval):
                    results = self.launcher.launch(overrides, initial_job_idx=job_idx)
            except KeyboardInterrupt:
                raise self._interrupted(study, batch, sweep_dir, objective, storage) from None
            except Exception as exc:
                if interrupted_inside(exc):  # Ctrl-C inside OmegaConf/Hydra, wrapped as a config error
                    raise self._interrupted(study, batch, sweep_dir, objective, storage) from None
                raise
            exhausted = False
            for trial, result in zip(batch, results, strict=True):
                exhausted |= self._tell(study, trial, result, sweep_dir, objective)
            job_idx += len(batch)
            left -= len(batch)
            if exhausted:
                log.info("sampler=grid: every point of the grid has been run")
                break
        fail_stale_trials(study, rdb)
        write_summary(study, sweep_dir, objective=objective, storage=storage, sampler=self.sampler)
        self._complete_top(study, sweep_dir, [*fixed, *self.fixed_hydra], maximize=direction == "maximize")
        done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        if done:
            best = study.best_trial
            log.info("best trial %d: %s=%.4g with %s", best.number, objective, best.value, best.params)

    def _interrupted(self, study: Any, batch: list[Any], sweep_dir: Path, objective: str, storage: str) -> Any:
        """After Ctrl-C: tell the study how the batch ended, write optuna.json and the finished runs' leaderboard."""
        import shutil

        from optuna.trial import TrialState

        from qt.sweeps.study import objective_value, write_summary

        from .grid_sweeper import SweepInterrupted, rank_finished_runs

        assert self.config is not None and self.hydra_context is not None
        abandoned = []
        for trial in batch:
            run_dir = sweep_dir / str(trial.number)
            shutil.rmtree(run_dir / ".partial", ignore_errors=True)
            trial.set_user_attr("run_dir", str(run_dir))
            try:
                value, _ = objective_value(run_dir, objective)
            except Exception:
                value = None
            if value is not None:  # it finished before the Ctrl-C
                study.tell(trial, value)
                continue
            abandoned.append(str(trial.number))
            trial.set_user_attr("error", "interrupted (Ctrl-C) before it finished")
            study.tell(trial, state=TrialState.FAIL)
        write_summary(study, sweep_dir, objective=objective, storage=storage, sampler=self.sampler)
        rank_finished_runs(self.config, self.hydra_context)
        left = f"trial{'s' if len(abandoned) > 1 else ''} {', '.join(abandoned)} failed as interrupted"
        board = sweep_dir / "leaderboard.html"
        where = f"leaderboard: {board}" if board.is_file() else "no leaderboard (no finished run)"
        return SweepInterrupted(
            f"interrupted: the study stopped asking for trials; {left if abandoned else 'no trial was running'}; "
            f"the same command resumes it; {where}"
        )

    def _complete_top(self, study: Any, sweep_dir: Path, fixed: list[str], *, maximize: bool) -> None:
        """Full files for the best ``report.top_n`` trials run lean in this folder, so their tearsheets can be drawn."""
        from optuna.trial import TrialState

        from qt.reporting.settings import ReportSettings
        from qt.sweeps.materialize import complete_run, is_lean

        assert self.config is not None and self.hydra_context is not None
        top_n = ReportSettings.from_config(self.config).top_n
        done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
        done.sort(key=lambda t: -t.value if maximize else t.value)
        for trial in done[:top_n]:
            run_dir = sweep_dir / str(trial.number)
            if not is_lean(run_dir):  # another process's folder, or already full
                continue
            try:
                config = self.hydra_context.config_loader.load_sweep_config(self.config, self._overrides(trial, fixed))
                with open_dict(config):
                    config.hydra.job.num = trial.number
                    config.hydra.runtime.output_dir = str(run_dir)
                complete_run(config, run_dir)
            except Exception as exc:  # the leaderboard lists the run without its tearsheet
                log.error("full files of %s: %s: %s", run_dir, type(exc).__name__, exc)

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
