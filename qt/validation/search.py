"""Choosing each window's parameters with an Optuna study instead of a grid.

Every window gets its own study (TPE, seeded from the run's seed and the window's
index, so a rerun chooses the same parameters). A trial's parameters name one
configuration; the caller backtests each configuration once over the full history and
scores it on the train window, so a configuration met again in a later window costs
nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from qt.errors import ConfigError
from qt.validation.windows import Window

Point = dict[str, Any]


def parse_space(space: dict[str, str]) -> dict[str, Any]:
    """``{key: "int(interval(21,252))"}`` (Hydra's sweep syntax) -> Optuna distributions by key."""
    from qt.sweeps.search_space import parse_search_space

    if not space:
        raise ConfigError(
            "validation.space",
            "search=optuna needs a search space, e.g. {strategy.params.lookback: 'int(interval(21,252))'}",
        )
    distributions, fixed = parse_search_space([f"{k}={v}" for k, v in space.items()])
    if fixed:
        raise ConfigError(
            f"validation.space.{fixed[0].split('=', 1)[0]}",
            "is a single value, not a range: use interval, range or choice",
        )
    return distributions


def optuna_choose(
    *,
    space: dict[str, Any],
    windows: Sequence[Window],
    score: Callable[[Point, Window], float],
    n_trials: int,
    maximize: bool,
    seed: int,
) -> list[tuple[Point, list[Point]]]:
    """Per window: the best trial's parameters and every trial's (``score(point, window)``: the train objective)."""
    import optuna
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    chosen: list[tuple[Point, list[Point]]] = []
    for w in windows:
        sampler = optuna.samplers.TPESampler(seed=seed * 1_000_003 + w.index)
        study = optuna.create_study(direction="maximize" if maximize else "minimize", sampler=sampler)
        for _ in range(n_trials):
            trial = study.ask(fixed_distributions=space)
            value = score({k: trial.params[k] for k in space}, w)
            if math.isfinite(value):
                study.tell(trial, value)
            else:
                study.tell(trial, state=TrialState.FAIL)
        done = [t for t in study.trials if t.state == TrialState.COMPLETE]
        if not done:
            raise ConfigError("validation.space", f"no trial of window {w.index} had a finite objective")
        tried = [{k: t.params[k] for k in space} for t in study.trials]
        chosen.append(({k: study.best_trial.params[k] for k in space}, tried))
    return chosen
