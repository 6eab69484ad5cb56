"""Rebalancing rules: which bars are decision bars."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, NonNegativeInt

from qt.enums import Frequency


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
