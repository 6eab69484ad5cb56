"""The ``validation`` config group: walk-forward windows, the grid searched in each, and the objective."""

from __future__ import annotations

import itertools
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from qt.config.problems import settings_error
from qt.errors import ConfigError
from qt.validation.windows import Duration, Scheme

# keys a grid may vary: what the strategy and its portfolio are built from (the engine's other parts stay fixed)
GRID_ROOTS = ("strategy", "portfolio", "risk_model", "constraints")
MAX_PARTITIONS = 20  # CSCV enumerates C(S, S/2) splits: 184,756 at 20, 155 million at 30


class Direction(StrEnum):
    """Whether a larger or a smaller objective is better."""

    MAXIMIZE = "maximize"
    MINIMIZE = "minimize"


class Search(StrEnum):
    """How each window's parameters are chosen: every point of a grid, or an Optuna study."""

    GRID = "grid"
    OPTUNA = "optuna"


class WalkForwardSettings(BaseModel):
    """``validation.*``: window lengths, scheme, purge and embargo, the grid and the objective.

    Examples
    --------
    >>> s = WalkForwardSettings(train="5y", test="1y", grid={"strategy.params.lookback": [63, 126]})
    >>> [p for p in s.points()]
    [{'strategy.params.lookback': 63}, {'strategy.params.lookback': 126}]
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    train: str
    test: str
    scheme: Scheme = Scheme.ROLLING
    embargo: str = "0d"
    purge: int = Field(0, ge=0, le=1_000_000)
    grid: dict[str, list[Any]] | None = None
    search: Search = Search.GRID
    space: dict[str, str] | None = None  # search=optuna: key -> Hydra sweep syntax, e.g. int(interval(21,252))
    n_trials: int = Field(20, ge=1, le=100_000)
    objective: str = "sharpe"
    direction: Direction = Direction.MAXIMIZE
    pbo_partitions: int = Field(16, ge=2, le=MAX_PARTITIONS)

    @field_validator("train", "test", "embargo", mode="before")
    @classmethod
    def _duration(cls, value: object, info: ValidationInfo) -> str:
        try:
            duration = Duration.parse(value, key="")
        except ConfigError as exc:
            raise ValueError(str(exc).removeprefix(": ")) from None
        if info.field_name in ("train", "test") and duration.n < 1:
            raise ValueError(f"must be at least one bar or period (e.g. 1y, 6m, 63d), got {value!r}")
        return str(value)

    @field_validator("pbo_partitions")
    @classmethod
    def _even(cls, value: int) -> int:
        if value % 2:
            raise ValueError(f"must be even, got {value}")
        return value

    @field_validator("space")
    @classmethod
    def _space(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for key in value or {}:
            _check_root(key)
        return value

    @field_validator("grid")
    @classmethod
    def _grid(cls, value: dict[str, list[Any]] | None) -> dict[str, list[Any]] | None:
        for key, options in (value or {}).items():
            _check_root(key)
            if not options:
                raise ValueError(f"{key}: needs at least one value")
        return value

    @model_validator(mode="after")
    def _search_needs_its_input(self) -> WalkForwardSettings:
        if self.search is Search.OPTUNA and not self.space:
            raise ValueError(
                "search=optuna needs validation.space, e.g. '{strategy.params.lookback:\"int(interval(21,252))\"}'"
            )
        if self.search is Search.OPTUNA and self.grid:
            raise ValueError("give either validation.grid (search=grid) or validation.space (search=optuna), not both")
        return self

    @classmethod
    def parse(cls, values: dict[str, Any]) -> WalkForwardSettings:
        """Validate ``validation.*``; errors name the key (``validation.train: ...``)."""
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise settings_error(exc, "validation", fields=cls.model_fields) from None

    def durations(self) -> tuple[Duration, Duration, Duration]:
        """Train, test and embargo lengths."""
        return (
            Duration.parse(self.train, key="validation.train"),
            Duration.parse(self.test, key="validation.test"),
            Duration.parse(self.embargo, key="validation.embargo"),
        )

    def points(self) -> list[dict[str, Any]]:
        """Every combination of the grid's values (one empty point when there is no grid)."""
        grid = self.grid or {}
        return [dict(zip(grid, combo, strict=True)) for combo in itertools.product(*grid.values())]


def _check_root(key: str) -> None:
    if key.split(".", 1)[0] not in GRID_ROOTS:
        raise ValueError(
            f"{key}: a walk-forward grid varies only keys under {', '.join(GRID_ROOTS)} "
            "(the engine's other parts stay the same across windows)"
        )


def label(point: dict[str, Any]) -> str:
    """``lookback=63,quantile=0.2``: the last part of each key and its value."""
    return ",".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in point.items()) or "base"
