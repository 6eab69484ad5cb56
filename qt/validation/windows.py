"""Walk-forward windows on the data's calendar: train, a gap (purge + embargo), then test.

Test windows are contiguous and cover the out-of-sample span once; each train window
ends before its test window by at least the purge (bars whose labels would look into
the test window) and the embargo (a calendar gap). Durations: ``5y``, ``6m``, ``2w``
are calendar offsets; ``252d`` counts bars (the data's own rows, like a lookback).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from qt.errors import ConfigError

DURATION = re.compile(r"^\s*(\d+)\s*([ymwd])\s*$")
MAX_DURATION = {"y": 200, "m": 2_400, "w": 10_400, "d": 10_000_000}  # beyond any calendar pandas can shift to


class Scheme(StrEnum):
    """How train windows move: a fixed length (rolling) or growing from the first bar (expanding)."""

    ROLLING = "rolling"
    EXPANDING = "expanding"


@dataclass(frozen=True)
class Duration:
    """A length on the calendar (``y``, ``m``, ``w``) or in bars (``d``).

    Examples
    --------
    >>> Duration.parse("5y", key="validation.train")
    Duration(n=5, unit='y')
    """

    n: int
    unit: str

    @classmethod
    def parse(cls, text: object, *, key: str) -> Duration:
        """``5y`` / ``6m`` / ``2w`` / ``252d``; anything else is a ConfigError naming ``key``."""
        m = DURATION.match(str(text))
        if m is None:
            raise ConfigError(key, f"must be a duration like 5y, 6m, 2w or 252d (d = bars), got {text!r}")
        n, unit = int(m.group(1)), m.group(2)
        if n > MAX_DURATION[unit]:
            raise ConfigError(key, f"must be at most {MAX_DURATION[unit]}{unit}, got {text!r}")
        return cls(n, unit)

    def __str__(self) -> str:
        return f"{self.n}{self.unit}"

    def _offset(self) -> object:
        import pandas as pd

        kind = {"y": "years", "m": "months", "w": "weeks"}[self.unit]
        return pd.DateOffset(**{kind: self.n})

    def forward(self, stamps: np.ndarray, i: int) -> int:
        """Index of the first bar at or after ``stamps[i]`` + this duration (may be len(stamps))."""
        if self.unit == "d":
            return i + self.n
        import pandas as pd

        when = (pd.Timestamp(stamps[i]) + self._offset()).to_datetime64()
        return int(np.searchsorted(stamps, when.astype(stamps.dtype), side="left"))

    def back(self, stamps: np.ndarray, j: int) -> int:
        """Index of the first bar at or after ``stamps[j]`` - this duration (may be negative for bars)."""
        if self.unit == "d":
            return j - self.n
        import pandas as pd

        when = (pd.Timestamp(stamps[j]) - self._offset()).to_datetime64()
        return int(np.searchsorted(stamps, when.astype(stamps.dtype), side="left"))


@dataclass(frozen=True)
class Window:
    """Bar indices of one fold: train [train_start, train_end), test [test_start, test_end).

    ``train_end`` is already purged; the bars in [train_end, test_start) are the purge and
    the embargo, used by neither side.
    """

    index: int
    train_start: int
    train_end: int
    test_start: int
    test_end: int


def walk_forward_windows(
    stamps: np.ndarray,
    *,
    train: Duration,
    test: Duration,
    scheme: Scheme = Scheme.ROLLING,
    embargo: Duration | None = None,
    purge: int = 0,
) -> list[Window]:
    """Folds over ``stamps``: contiguous test windows from the first bar a full train window allows.

    The first train window starts at bar 0 and spans ``train``; test windows follow one
    another (the last may be short); each train window ends ``embargo`` before its test
    window starts, less ``purge`` bars.

    Examples
    --------
    >>> days = np.arange(10).astype("datetime64[D]").astype("datetime64[us]")
    >>> [(w.train_start, w.train_end, w.test_start, w.test_end) for w in
    ...  walk_forward_windows(days, train=Duration(4, "d"), test=Duration(3, "d"))]
    [(0, 4, 4, 7), (3, 7, 7, 10)]
    """
    if purge < 0:
        raise ConfigError("validation.purge", f"must be >= 0 bars, got {purge}")
    gap = embargo if embargo is not None else Duration(0, "d")
    n = len(stamps)
    first_train_end = train.forward(stamps, 0) if n else 0
    if first_train_end >= n:
        raise ConfigError("validation.train", f"{train} leaves no bars to test on: the data has {n} bars")
    start = _after(stamps, first_train_end, gap)
    windows: list[Window] = []
    while start < n:
        end = min(max(test.forward(stamps, start), start + 1), n)
        nominal_end = _before(stamps, start, gap)  # exclusive end of train, the embargo before the test
        train_end = nominal_end - purge
        train_start = 0 if scheme == Scheme.EXPANDING else max(_train_start(stamps, nominal_end, train), 0)
        if train_end <= train_start:
            raise ConfigError(
                "validation.purge", f"purge={purge} bars leaves no training bars before test window {len(windows)}"
            )
        windows.append(Window(len(windows), train_start, train_end, start, end))
        start = end
    if not windows:
        raise ConfigError("validation.embargo", f"embargo {gap} leaves no bars to test on: the data has {n} bars")
    return windows


def _after(stamps: np.ndarray, i: int, gap: Duration) -> int:
    """First bar at or after bar ``i`` + ``gap`` (bar ``i`` itself for a zero gap)."""
    if i >= len(stamps):
        return len(stamps)
    return gap.forward(stamps, i) if gap.n else i


def _before(stamps: np.ndarray, j: int, gap: Duration) -> int:
    """Exclusive end of the bars before ``gap`` ends at bar ``j``: every bar i < result has i + gap <= j."""
    if not gap.n:
        return j
    if gap.unit == "d":
        return j - gap.n
    import pandas as pd

    off = gap._offset()
    when = (pd.Timestamp(stamps[j]) - off).to_datetime64()
    return int(np.searchsorted(stamps, when.astype(stamps.dtype), side="right"))


def _train_start(stamps: np.ndarray, end: int, train: Duration) -> int:
    """First bar of a train window of length ``train`` ending (exclusive) at ``end``."""
    if train.unit == "d":
        return end - train.n
    if end <= 0:
        return 0
    import pandas as pd

    off = train._offset()
    last = end - 1 if end <= len(stamps) else len(stamps) - 1
    when = (pd.Timestamp(stamps[last]) - off).to_datetime64()
    return int(np.searchsorted(stamps, when.astype(stamps.dtype), side="right"))
