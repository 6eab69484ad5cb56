"""The gateway simulator's market: a BarPanel replayed bar by bar, with a cursor that is "now".

Bars up to the cursor are history (reqHistoricalData never sees past it); ``advance`` moves
the cursor one bar, and the new bar is what real-time subscribers receive. The last price
of a symbol is its latest close at or before the cursor.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from qt.data.panel import BarPanel
from qt.enums import Field

Bar = tuple[float, float, float, float, float]  # open, high, low, close, volume

_DURATION = re.compile(r"^\s*(\d+)\s*([SDWMY])\s*$")


class HistoryRequestError(ValueError):
    """A historical-data request the simulator cannot answer (its text goes to the client as error 162)."""


class MarketReplay:
    """Replay ``panel`` from bar ``start`` (negative counts from the end, like a Python index).

    Examples
    --------
    >>> from qt.testing.panels import daily_panel
    >>> m = MarketReplay(daily_panel([[1.0], [2.0], [3.0], [4.0], [5.0]]), start=2)
    >>> m.cursor, m.advance(), m.cursor
    (2, True, 3)
    """

    def __init__(self, panel: BarPanel, start: int = -253) -> None:
        if panel.n_bars == 0:
            raise ValueError(f"{panel.name}: the gateway simulator needs at least one bar")
        self.panel = panel
        self.cursor = min(max(start if start >= 0 else panel.n_bars + start, 0), panel.n_bars - 1)
        self._column = {s: j for j, s in enumerate(panel.symbols)}
        close = panel.close
        self._fields = [panel.fields.get(f, close) for f in (Field.OPEN, Field.HIGH, Field.LOW, Field.CLOSE)]
        self._volume = panel.fields.get(Field.VOLUME)
        self._last: dict[str, float | None] = {}

    @property
    def symbols(self) -> tuple[str, ...]:
        """The symbols the gateway knows (its contract universe)."""
        return self.panel.symbols

    def knows(self, symbol: str) -> bool:
        """Whether ``symbol`` is in the data set."""
        return symbol in self._column

    def timestamp(self, i: int | None = None) -> datetime:
        """The time of bar ``i`` (default: the cursor) as an aware UTC datetime."""
        ts = self.panel.timestamps[self.cursor if i is None else i]
        return datetime.fromtimestamp(int(ts.astype("datetime64[us]").astype(np.int64)) / 1e6, UTC)

    def bar(self, symbol: str, i: int | None = None) -> Bar | None:
        """Open, high, low, close, volume of ``symbol`` at bar ``i`` (default the cursor); None when not trading."""
        j, row = self._column[symbol], self.cursor if i is None else i
        o, h, lo, c = (float(a[row, j]) for a in self._fields)
        if np.isnan(c):
            return None
        v = float(self._volume[row, j]) if self._volume is not None else 0.0
        return (
            c if np.isnan(o) else o,
            c if np.isnan(h) else h,
            c if np.isnan(lo) else lo,
            c,
            0.0 if np.isnan(v) else v,
        )

    def last_price(self, symbol: str) -> float | None:
        """The latest close of ``symbol`` at or before the cursor (None if it never traded yet)."""
        if symbol not in self._last:
            column = self.panel.close[: self.cursor + 1, self._column[symbol]]
            valid = np.flatnonzero(~np.isnan(column))
            self._last[symbol] = float(column[valid[-1]]) if len(valid) else None
        return self._last[symbol]

    def advance(self) -> bool:
        """Move the cursor one bar forward; False at the end of the data."""
        if self.cursor >= self.panel.n_bars - 1:
            return False
        self.cursor += 1
        self._last.clear()
        return True

    def seek(self, when: datetime) -> bool:
        """Put the cursor on the bar stamped ``when`` (a clock kept across restarts); False if no bar has that time."""
        stamps = self.panel.timestamps.astype("datetime64[us]").astype(np.int64)
        hits = np.flatnonzero(stamps == int(when.timestamp() * 1_000_000))
        if len(hits) == 0:
            return False
        self.cursor = int(hits[0])
        self._last.clear()
        return True

    def history(self, symbol: str, end_text: str, duration: str, bar_size: str) -> list[tuple[datetime, Bar]]:
        """Daily bars of ``symbol`` in (end - duration, end], never past the cursor."""
        if bar_size.strip().lower() not in {"1 day", "1 d"}:
            raise HistoryRequestError(
                f"bar size {bar_size!r} is not served: the simulator's data is daily, ask '1 day'"
            )
        now = self.timestamp()
        end = min(parse_end(end_text), now) if end_text.strip() else now
        start = end - parse_duration(duration, end)
        out: list[tuple[datetime, Bar]] = []
        for i in range(self.cursor + 1):
            ts = self.timestamp(i)
            if start < ts <= end and (b := self.bar(symbol, i)) is not None:
                out.append((ts, b))
        return out


def parse_end(text: str) -> datetime:
    """An IB end time (``20221228 23:59:59 UTC``, ``20221228-23:59:59``, ``20221228 16:00:00 US/Eastern``) in UTC.

    Examples
    --------
    >>> parse_end("20221228 23:59:59 US/Eastern").isoformat()
    '2022-12-29T04:59:59+00:00'
    """
    text = text.strip().replace("-", " ", 1) if "-" in text[:9] else text.strip()
    parts = text.split(" ", 2)
    try:
        naive = datetime.strptime(" ".join(parts[:2]), "%Y%m%d %H:%M:%S")
        zone = ZoneInfo(parts[2]) if len(parts) > 2 else UTC
    except (ValueError, KeyError) as exc:
        raise HistoryRequestError(f"end date/time {text!r}: expected 'yyyymmdd hh:mm:ss [zone]'") from exc
    return naive.replace(tzinfo=zone).astimezone(UTC)


def parse_duration(text: str, end: datetime) -> timedelta:
    """IB's duration (``30 D``, ``2 W``, ``6 M``, ``1 Y``, ``3600 S``) ending at ``end``, as a timedelta.

    Examples
    --------
    >>> parse_duration("2 W", datetime(2024, 3, 1, tzinfo=UTC)).days
    14
    >>> parse_duration("1 M", datetime(2024, 3, 31, tzinfo=UTC)).days  # back to Feb 29
    31
    """
    match = _DURATION.match(text.upper())
    if match is None:
        raise HistoryRequestError(f"duration {text!r}: expected '<n> S|D|W|M|Y'")
    n, unit = int(match.group(1)), match.group(2)
    if unit in "SDW":
        return timedelta(seconds=n * {"S": 1, "D": 86_400, "W": 604_800}[unit])
    months = n * (12 if unit == "Y" else 1)
    year, month = divmod(end.month - 1 - months, 12)
    day = min(end.day, _days_in_month(end.year + year, month + 1))
    return end - end.replace(year=end.year + year, month=month + 1, day=day)


def _days_in_month(year: int, month: int) -> int:
    nxt = datetime(year + month // 12, month % 12 + 1, 1)
    return (nxt - timedelta(days=1)).day
