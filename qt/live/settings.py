"""``live:`` — how a live run is driven: the feed's start and speed, the state folder and store, the guards.

Everything here is a setting with a default; ``mode=live`` adds the block, ``broker=`` chooses where
orders go. Account ids and passwords never live here: they come from the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    ValidationInfo,
    field_validator,
)

from qt.live.guard import GuardSettings


class LiveSettings(BaseModel):
    """The ``live`` block of a ``mode=live`` run."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    state_dir: str = "live/default"
    run_name: str | None = None  # the client-order-id namespace; default: the state folder's name
    start: str | None = None  # first bar traded live; earlier bars are warm-up history (default: the first bar)
    speed: Literal["max"] | PositiveFloat = "max"  # replay: as fast as possible, or a multiple of market time
    bar_seconds: PositiveFloat | None = None  # replay: wall seconds per bar instead (0.24: 252 daily bars a minute)
    store: dict[str, Any] = Field(default_factory=lambda: {"kind": "sqlite"})
    guard: GuardSettings = GuardSettings()
    ack_timeout_s: PositiveFloat = 30.0
    max_ack_misses: PositiveInt = 3
    max_rejects: PositiveInt = 5  # broker rejects within reject_window_minutes that halt trading
    reject_window_minutes: PositiveFloat = 10.0
    halt_on_daily_loss: bool = True  # a daily-loss stop halts live trading (it only de-risks in a backtest)
    adopt_positions: bool = False  # on a position break at start: adopt the broker's positions instead of halting
    cancel_on_exit: bool = False  # on SIGTERM/SIGINT: cancel open orders before exiting
    stall_after: NonNegativeInt | None = None  # rehearsal/tests: the replay feed goes silent after that many bars

    @field_validator("state_dir", "run_name")
    @classmethod
    def _not_blank(cls, value: str | None, info: ValidationInfo) -> str | None:
        """An empty state folder would be the current folder; an empty run name no namespace at all."""
        if value is not None and not value.strip():
            what = (
                "a folder, e.g. live/xmom-paper" if info.field_name == "state_dir" else "a name, or null (the folder's)"
            )
            raise ValueError(f"write {what}; got an empty value")
        return value

    @field_validator("start", mode="before")
    @classmethod
    def _a_date(cls, value: Any) -> str | None:
        """A date or timestamp numpy reads (``2020-03-02``, ``2020-03-02T14:30``), checked before anything is written."""
        import numpy as np

        if value is not None:
            value = str(value)  # live.start=2020 arrives as a number: the year
            try:
                np.datetime64(value, "us")
            except ValueError:
                raise ValueError(
                    f"{value!r} is not a date; write it as YYYY-MM-DD (e.g. 2020-03-02) or YYYY-MM-DDTHH:MM"
                ) from None
        return value

    @field_validator("speed", mode="before")
    @classmethod
    def _max_or_positive(cls, value: Any) -> Any:
        """``max`` or a positive multiple of market time; anything else is named with what to write instead."""
        if value == "max":
            return value
        try:
            ok = float(value) > 0 and not isinstance(value, bool)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(f"write a positive multiple of market time (2 = twice as fast) or max, got {value!r}")
        return value

    @field_validator("bar_seconds")
    @classmethod
    def _one_pace(cls, value: float | None, info: ValidationInfo) -> float | None:
        """A replay is paced by ``speed`` or by ``bar_seconds``: setting both is ambiguous."""
        if value is not None and info.data.get("speed", "max") != "max":
            raise ValueError(f"set live.speed or live.bar_seconds, not both (live.speed={info.data['speed']})")
        return value

    @property
    def folder(self) -> Path:
        """The state folder, ``~`` and ``$VARS`` expanded."""
        from qt.config.paths import expand_path

        return Path(expand_path(self.state_dir))

    @property
    def name(self) -> str:
        """The run name client order ids are derived from."""
        return self.run_name or self.folder.resolve().name
