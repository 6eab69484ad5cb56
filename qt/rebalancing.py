"""Rebalancing schedules: which bars are decision bars (shared by strategies, portfolios and the engines).

``Calendar`` decides on fixed dates. ``Drift`` checks the book on each ``check`` bar and
decides when any weight moved more than ``threshold`` from its last target;
``CalendarDrift`` does both (calendar dates always, drift checks in between).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt

from qt.enums import Frequency


@runtime_checkable
class Rebalance(Protocol):
    """Chooses the decision bars."""

    def schedule(self, timestamps: np.ndarray) -> np.ndarray:
        """Bool [T]: True at bars where the strategy decides."""
        ...


class Calendar(BaseModel):
    """Decide on the last bar of each calendar period present in the data.

    ``offset`` moves the decision that many bars earlier within the period (0 = last bar).
    Weeks run Monday to Sunday; quarters are calendar quarters.

    Examples
    --------
    >>> ts = np.array(["2024-01-30", "2024-01-31", "2024-02-01"], dtype="datetime64[us]")
    >>> Calendar(frequency="monthly").schedule(ts).tolist()
    [False, True, True]
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    frequency: Frequency = Frequency.MONTHLY
    offset: NonNegativeInt = 0

    def schedule(self, timestamps: np.ndarray) -> np.ndarray:
        """Bool [T]: True at the (offset-adjusted) last bar of each period."""
        keys = period_keys(timestamps, self.frequency)
        last = np.ones(len(keys), dtype=bool)
        last[:-1] = keys[1:] != keys[:-1]
        if self.offset == 0:
            return last
        starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
        ends = np.flatnonzero(last)
        chosen = np.maximum(ends - self.offset, starts)
        out = np.zeros(len(keys), dtype=bool)
        out[chosen] = True
        return out


class Drift(BaseModel):
    """Rebalance when any weight drifts more than ``threshold`` from its last target (checked every ``check`` bar).

    The first check bar always decides (there is no target yet).

    Examples
    --------
    >>> ts = np.array(["2024-01-30", "2024-01-31"], dtype="datetime64[us]")
    >>> Drift(threshold=0.05).forced(ts).tolist()
    [False, False]
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    threshold: float = Field(..., gt=0, lt=1)
    check: Frequency = Frequency.DAILY

    def schedule(self, timestamps: np.ndarray) -> np.ndarray:
        """Bool [T]: the bars where drift is checked."""
        return Calendar(frequency=self.check).schedule(timestamps)

    def forced(self, timestamps: np.ndarray) -> np.ndarray:
        """Bool [T]: bars that decide whatever the drift (none)."""
        return np.zeros(len(timestamps), dtype=bool)


class CalendarDrift(Calendar):
    """Calendar decisions, plus a decision on any ``check`` bar where a weight drifted more than ``threshold``."""

    threshold: float = Field(..., gt=0, lt=1)
    check: Frequency = Frequency.DAILY

    def schedule(self, timestamps: np.ndarray) -> np.ndarray:
        """Bool [T]: calendar bars and drift-check bars."""
        return Calendar(frequency=self.check).schedule(timestamps) | self.forced(timestamps)

    def forced(self, timestamps: np.ndarray) -> np.ndarray:
        """Bool [T]: the calendar bars, which always decide."""
        return super().schedule(timestamps)


@runtime_checkable
class DriftRule(Protocol):
    """A rebalancing rule whose scheduled bars decide only when forced or when the book drifted."""

    threshold: float

    def forced(self, timestamps: np.ndarray) -> np.ndarray:
        """Bool [T]: bars that decide whatever the drift."""
        ...


def drift_rule(rebalance: object) -> DriftRule | None:
    """``rebalance`` if it is a drift rule, else None (every scheduled bar decides)."""
    return rebalance if isinstance(rebalance, DriftRule) else None


def period_keys(timestamps: np.ndarray, frequency: Frequency) -> np.ndarray:
    """An integer per bar that is equal for bars of the same calendar period."""
    days = timestamps.astype("datetime64[D]").astype(np.int64)
    if frequency is Frequency.DAILY:
        return days
    if frequency is Frequency.WEEKLY:
        return (days + 3) // 7  # 1970-01-01 was a Thursday: shift so weeks start on Monday
    months = timestamps.astype("datetime64[M]").astype(np.int64)
    if frequency is Frequency.MONTHLY:
        return months
    return months // 3
