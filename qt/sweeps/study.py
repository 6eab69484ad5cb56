"""The Optuna study behind ``hydra/sweeper=optuna``: where it lives, its samplers, its objective.

A study's default name is derived from the command (strategy, objective and a hash of the
overrides), and its default home is ``outputs/optuna/<name>/optuna.db`` (SQLite), so
running the same command again resumes it. ``postgresql://`` storages use psycopg 3, so
several processes or machines can share one study.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from pathlib import Path
from typing import Any

from qt.errors import ConfigError

log = logging.getLogger("qt")
SAMPLERS = ("tpe", "random", "cmaes", "grid")
DIRECTIONS = ("maximize", "minimize")
SUMMARY_FILE = "optuna.json"


def default_study_name(strategy: str | None, objective: str, task_overrides: list[str]) -> str:
    """``<strategy>-<objective>-<8 hex>``: the same command always names the same study."""
    digest = hashlib.sha256("\n".join(sorted(task_overrides)).encode()).hexdigest()[:8]
    return "-".join(p for p in (strategy, objective, digest) if p)


def storage_url(storage: str | None, sweep_dir: Path) -> str:
    """The SQLAlchemy URL of the study: SQLite in the sweep folder by default; postgresql:// through psycopg 3."""
    if not storage:
        return f"sqlite:///{(sweep_dir / 'optuna.db').resolve()}"
    for plain in ("postgresql://", "postgres://"):
        if storage.startswith(plain):
            return "postgresql+psycopg://" + storage[len(plain) :]
    return storage


def make_sampler(name: str, *, seed: int | None, search_space: dict[str, Any]) -> Any:
    """TPE (default), random, CMA-ES or grid, seeded."""
    import optuna

    from qt.sweeps.search_space import grid

    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    if name == "grid":
        return optuna.samplers.GridSampler(grid(search_space), seed=seed)
    raise ConfigError("hydra.sweeper.sampler", f"unknown sampler '{name}'; choose one of: {', '.join(SAMPLERS)}")


def open_study(*, name: str, storage: str, sampler: Any, direction: str, attempts: int = 5) -> Any:
    """Create the study or load it when it exists (several processes may race to create it)."""
    import optuna

    if direction not in DIRECTIONS:
        raise ConfigError("direction", f"must be maximize or minimize, got '{direction}'")
    for attempt in range(attempts):
        try:
            return optuna.create_study(
                study_name=name,
                storage=storage,
                sampler=sampler,
                direction="maximize" if direction == "maximize" else "minimize",
                load_if_exists=True,
            )
        except Exception as exc:  # concurrent table/study creation: the other process won, load it
            if attempt == attempts - 1 or type(exc).__module__.split(".")[0] not in ("sqlalchemy", "optuna"):
                raise
            log.info("opening study %s: %s; retrying", name, exc)
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def objective_value(run_dir: Path, objective: str) -> tuple[float | None, str | None]:
    """``(value, None)`` from the run's metrics.json or performance.json; ``(None, error)`` for a failed run."""
    error = run_dir / "error.json"
    if error.is_file():
        try:
            return None, str(json.loads(error.read_text()).get("error", "unknown error"))
        except json.JSONDecodeError:
            return None, error.read_text()[:500]
    metrics = run_dir / "metrics.json"
    if not metrics.is_file():
        return None, "no metrics.json and no error.json (the run was interrupted?)"
    sources = [json.loads(metrics.read_text())]
    perf = run_dir / "performance.json"
    if perf.is_file():
        data = json.loads(perf.read_text())
        sources += [data.get("summary", {}), data]
    for source in sources:
        if objective in source and isinstance(source[objective], int | float | None):
            value = source[objective]
            if value is None or not math.isfinite(float(value)):
                return None, f"objective {objective} is {value}"
            return float(value), None
    keys = sorted({k for s in sources[:2] for k, v in s.items() if isinstance(v, int | float)})
    raise ConfigError("objective", f"'{objective}' is not a metric of {run_dir.name}; choose one of: {', '.join(keys)}")


def write_summary(study: Any, sweep_dir: Path, *, objective: str, storage: str, sampler: str) -> Path:
    """optuna.json: every trial, the best one and the parameter importances (read by the leaderboard page)."""
    import optuna

    from qt.config.secrets import mask_dsn

    trials = []
    for t in study.get_trials(deepcopy=False):
        trials.append(
            {
                "number": t.number,
                "state": t.state.name,
                "value": t.value,
                "params": t.params,
                "run_dir": t.user_attrs.get("run_dir"),
                "error": t.user_attrs.get("error"),
            }
        )
    done = [t for t in trials if t["state"] == "COMPLETE"]
    best = None
    if done:
        b = study.best_trial
        best = {"number": b.number, "value": b.value, "params": b.params}
    importances: dict[str, float] = {}
    if len(done) >= 2 and study.best_trial.params:
        try:
            raw = optuna.importance.get_param_importances(study)
            importances = {k: float(v) for k, v in raw.items()}
        except (ValueError, RuntimeError) as exc:  # e.g. every trial with the same parameters
            log.info("parameter importances of %s: %s", study.study_name, exc)
    summary = {
        "study_name": study.study_name,
        "storage": mask_dsn(storage),
        "sampler": sampler,
        "objective": objective,
        "direction": study.direction.name.lower(),
        "n_trials": len(trials),
        "best": best,
        "importances": importances,
        "trials": trials,
    }
    path = sweep_dir / SUMMARY_FILE
    tmp = sweep_dir / f".{SUMMARY_FILE}.partial"
    tmp.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    tmp.replace(path)
    return path
