"""The bars a live run has seen so far, as a growing panel the session and the strategy read.

Rows are appended as bars arrive; ``panel()`` is a view of the rows so far (no copy) whose
mark prices and tradable flags are kept up to date incrementally, so each bar costs O(N).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from qt.data.panel import BarPanel
from qt.enums import Field


class Arrival(StrEnum):
    """How a bar reached the run: live, or after a restart from the feed's history (``qt.live.catchup``)."""

    LIVE = "live"
    MISSED = "missed"  # it passed while no qt process ran: marked at its true prices, no decision at it
    RESTART = "restart"  # the last bar that passed while down: a decision due while down is made here, late


@dataclass(frozen=True)
class BarRow:
    """One bar of every symbol: its time and a value per field (NaN where a symbol has no bar)."""

    timestamp: np.datetime64
    values: dict[Field, np.ndarray]
    arrival: Arrival = Arrival.LIVE


class _Seen(BarPanel):
    """A BarPanel view whose marks and tradable flags were computed as the rows arrived."""

    def __init__(self, history: History, n: int) -> None:
        super().__init__(
            history.timestamps[:n],
            history.symbols,
            {f: a[:n] for f, a in history.arrays.items()},
            tz=history.tz,
            name=history.name,
        )
        self._cache["mark"] = history.marks[:n]
        self._cache["tradable"] = history.tradable[:n]

    def __post_init__(self) -> None:
        """No check of the whole history at every bar (O(T) each): ``History.append`` keeps it valid row by row."""


class History:
    """Bars so far for a fixed list of symbols; capacity grows by doubling.

    Examples
    --------
    >>> h = History(("A", "B"), (Field.CLOSE,))
    >>> h.append(BarRow(np.datetime64("2024-01-02", "us"), {Field.CLOSE: np.array([1.0, np.nan])}))
    0
    >>> h.append(BarRow(np.datetime64("2024-01-03", "us"), {Field.CLOSE: np.array([np.nan, 2.0])}))
    1
    >>> h.panel().mark_prices.tolist()
    [[1.0, 0.0], [1.0, 2.0]]
    """

    def __init__(
        self, symbols: tuple[str, ...], fields: tuple[Field, ...], *, tz: str | None = None, name: str = "live"
    ) -> None:
        self.symbols = tuple(symbols)
        self.tz = tz
        self.name = name
        self.n = 0
        capacity = 256
        n_assets = len(self.symbols)
        self.timestamps = np.zeros(capacity, dtype="datetime64[us]")
        self.arrays = {f: np.full((capacity, n_assets), np.nan) for f in fields}
        self.marks = np.zeros((capacity, n_assets))
        self.tradable = np.zeros((capacity, n_assets), dtype=bool)

    @classmethod
    def of(cls, panel: BarPanel, rows: int) -> History:
        """A history holding the first ``rows`` bars of ``panel`` (the warm-up)."""
        history = cls(panel.symbols, tuple(panel.fields), tz=panel.tz, name=panel.name)
        for t in range(rows):
            history.append(BarRow(panel.timestamps[t], {f: a[t] for f, a in panel.fields.items()}))
        return history

    def append(self, bar: BarRow) -> int:
        """Add ``bar`` (strictly after the last one); its row index."""
        t = self.n
        if t and bar.timestamp <= self.timestamps[t - 1]:
            raise ValueError(f"bar at {bar.timestamp} is not after the last one ({self.timestamps[t - 1]})")
        if t == len(self.timestamps):
            self._grow()
        self.timestamps[t] = bar.timestamp
        for f, arr in self.arrays.items():
            arr[t] = bar.values.get(f, np.nan)
        close = self.arrays[Field.CLOSE][t]
        ok = np.isfinite(close)
        self.tradable[t] = ok
        self.marks[t] = np.where(ok, close, self.marks[t - 1] if t else 0.0)
        self.n = t + 1
        return t

    def panel(self) -> BarPanel:
        """The bars so far as a panel (a view: valid until the next append)."""
        return _Seen(self, self.n)

    def _grow(self) -> None:
        size = 2 * len(self.timestamps)
        self.timestamps = np.resize(self.timestamps, size)
        self.arrays = {f: _resized(a, size, np.nan) for f, a in self.arrays.items()}
        self.marks = _resized(self.marks, size, 0.0)
        self.tradable = _resized(self.tradable, size, False)


def _resized(arr: np.ndarray, rows: int, fill: float | bool) -> np.ndarray:
    out = np.full((rows, arr.shape[1]), fill, dtype=arr.dtype)
    out[: arr.shape[0]] = arr
    return out


def utc_time(stamp: np.datetime64) -> dt.datetime:
    """A bar time (UTC, any unit) as an aware datetime.

    Examples
    --------
    >>> utc_time(np.datetime64("2024-01-02T21:00", "us")).isoformat()
    '2024-01-02T21:00:00+00:00'
    """
    micros = int(np.asarray(stamp).astype("datetime64[us]").astype(np.int64))
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=micros)
