"""The IB feed: warm-up from historical daily bars, live decisions from real-time bars aggregated per session.

Real-time bars (5-second bars from IB) are grouped by session date (their UTC date; a US session
never crosses midnight UTC) and merged into one bar per session: first open, highest high,
lowest low, last close, summed volume. A session's bar is handed to the driver when it is
complete: every symbol sent a bar ending at or after the session's close, a bar of a later
session arrived, or ``bar_settle_s`` passed after the close. A real-time bar stamped exactly at
a session's midnight carries the whole session (that is how ``qt ib-gateway`` replays daily
data); the session completes as soon as every symbol sent one, or ``bar_settle_s`` after the first.
Bars are stamped like qt's daily data: the session date at midnight. A silent stream is the
driver's business (``next_due`` and ``live.guard.stale_after_s``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qt.enums import Field
from qt.live.history import Arrival, BarRow
from qt.live.ib.broker import IBBroker, utc
from qt.live.ib.config import IBSettings

log = logging.getLogger("qt")
FIELDS = (Field.OPEN, Field.HIGH, Field.LOW, Field.CLOSE, Field.VOLUME)
DAY = np.timedelta64(1, "D")


@dataclass
class _Session:
    """Real-time bars of one session so far, per symbol: [open, high, low, close, volume]."""

    date: np.datetime64
    bars: dict[str, list[float]] = field(default_factory=dict)
    complete: set[str] = field(default_factory=set)
    timer: asyncio.TimerHandle | None = None

    def add(self, symbol: str, o: float, h: float, lo: float, c: float, v: float) -> None:
        got = self.bars.get(symbol)
        if got is None:
            self.bars[symbol] = [o, h, lo, c, max(v, 0.0)]
        else:
            got[1], got[2], got[3], got[4] = max(got[1], h), min(got[2], lo), c, got[4] + max(v, 0.0)


class IBFeed:
    """Implements the ``Feed`` protocol over ib_async's historical and real-time bars."""

    def __init__(self, *, ib: Any, broker: IBBroker, fields: tuple[Field, ...], settings: IBSettings) -> None:
        self.ib = ib
        self.broker = broker
        self.symbols = broker.symbols
        self.fields = fields
        self.settings = settings
        self.last_date: np.datetime64 | None = None  # the last session handed out (warm-up included)
        self.live_bars = 0
        self._open: dict[np.datetime64, _Session] = {}
        self._queue: asyncio.Queue[BarRow | None] = asyncio.Queue()
        self._subscriptions: list[Any] = []

    # -- warm-up ----------------------------------------------------------------------------
    async def warmup(self, origin: np.datetime64 | None = None) -> list[BarRow]:
        """Daily bars up to now, from ``origin`` (a restart) or over ``broker.warmup`` (a first start)."""
        duration = self.settings.warmup if origin is None else _duration_since(origin)
        contracts = [self.broker.contracts[s] for s in self.symbols]

        async def history(contract: Any) -> Any:
            await self.broker.pacer.turn()
            return await self.ib.reqHistoricalDataAsync(
                contract, endDateTime="", durationStr=duration, barSizeSetting="1 day", whatToShow="TRADES",
                useRTH=True, formatDate=2, timeout=self.settings.request_timeout_s,
            )  # fmt: skip

        lists = await asyncio.gather(*[history(c) for c in contracts])
        rows: dict[np.datetime64, dict[str, list[float]]] = {}
        for symbol, bars in zip(self.symbols, lists, strict=True):
            for b in bars or []:
                day = _session_date(b.date)
                rows.setdefault(day, {})[symbol] = [b.open, b.high, b.low, b.close, b.volume]
        days = sorted(d for d in rows if origin is None or d >= origin)
        out = [self._row(d, rows[d]) for d in days]
        if days:
            self.last_date = days[-1]
        return out

    def catch_up(self, rows: list[BarRow], recorded_until: np.datetime64 | None) -> list[BarRow]:
        """Split warm-up ``rows`` at the last bar the run recorded: the history before it; the rest is queued.

        The bars after ``recorded_until`` passed while no qt process ran: ``bars()`` yields them first,
        flagged MISSED (the last one RESTART), so the driver marks each at its true price (``qt.live.catchup``).
        """
        if recorded_until is None:
            return rows
        until = np.asarray(recorded_until).astype("datetime64[us]")
        history = [r for r in rows if r.timestamp <= until]
        missed = [r for r in rows if r.timestamp > until]
        for k, row in enumerate(missed):
            arrival = Arrival.RESTART if k == len(missed) - 1 else Arrival.MISSED
            self._queue.put_nowait(BarRow(row.timestamp, row.values, arrival))
        if missed:
            log.warning("IB: %d bars passed while qt was down (%s .. %s): fetched from IB's history, marked at their "
                        "prices", len(missed), str(missed[0].timestamp)[:10], str(missed[-1].timestamp)[:10])  # fmt: skip
        return history

    # -- live -------------------------------------------------------------------------------
    def subscribe(self) -> None:
        """Real-time bars for every symbol (again after a reconnect: a disconnect drops subscriptions)."""
        for bars in self._subscriptions:
            bars.updateEvent -= self._on_bars
        self._subscriptions = []
        for s in self.symbols:
            self.broker.pacer.submit(f"bars:{s}", lambda s=s: self._subscribe(s))  # type: ignore[misc]

    def _subscribe(self, symbol: str) -> None:
        if not self.ib.isConnected():
            return
        bars = self.ib.reqRealTimeBars(self.broker.contracts[symbol], 5, "TRADES", True)
        bars.updateEvent += self._on_bars
        self._subscriptions.append(bars)

    def close(self) -> None:
        """End ``bars()``; cancel the real-time subscriptions, queued subscription requests and session timers."""
        self.broker.pacer.withdraw_prefix("bars:")
        for session in self._open.values():
            if session.timer is not None:
                session.timer.cancel()
        self._open.clear()
        for bars in self._subscriptions:
            bars.updateEvent -= self._on_bars
            if self.ib.isConnected():
                self.ib.cancelRealTimeBars(bars)
        self._subscriptions = []
        self._queue.put_nowait(None)

    async def bars(self) -> AsyncIterator[BarRow]:
        """Session bars as they complete (until ``close`` or ``broker.stop_after_bars``)."""
        while True:
            bar = await self._queue.get()
            if bar is None:
                return
            yield bar
            if bar.arrival is not Arrival.LIVE:
                continue  # a bar that passed while qt was down is not one of the live bars counted
            self.live_bars += 1
            if self.settings.stop_after_bars is not None and self.live_bars >= self.settings.stop_after_bars:
                return

    def next_due(self, after: np.datetime64) -> np.datetime64 | None:
        """The session after ``after`` on the exchange calendar, at midnight (qt's daily stamp)."""
        from qt.data.calendars import sessions

        day = _day(after)
        later = sessions(day + DAY, day + 15 * DAY, self.settings.calendar)
        return later[0] if len(later) else None

    def _on_bars(self, bars: Any, has_new: bool) -> None:
        if not has_new or not bars:
            return
        bar = bars[-1]
        symbol = bars.contract.symbol
        start = utc(bar.time)
        day = np.datetime64(start.date(), "D").astype("datetime64[us]")
        if self.last_date is not None and day <= self.last_date:
            return  # a session already handed out
        for older in [d for d in self._open if d < day]:
            self._emit(older)
        session = self._open.get(day)
        if session is None:
            session = self._open[day] = _Session(day)
            self._arm(session, start)
        session.add(symbol, bar.open_, bar.high, bar.low, bar.close, bar.volume)
        if self._ends_session(start, day):
            session.complete.add(symbol)
            if len(session.complete) == len(self.symbols):
                self._emit(day)

    def _ends_session(self, start: dt.datetime, day: np.datetime64) -> bool:
        """A whole-session bar (stamped at midnight) or a bar ending at or after the session close."""
        if start.time() == dt.time(0, 0):
            return True
        close = _session_close(day, self.settings.calendar)
        return close is not None and start + dt.timedelta(seconds=5) >= close

    def _arm(self, session: _Session, start: dt.datetime) -> None:
        """Emit the session after ``bar_settle_s`` past the first whole-session bar, or past the close."""
        loop = asyncio.get_running_loop()
        if start.time() == dt.time(0, 0):
            delay = self.settings.bar_settle_s
        else:
            close = _session_close(session.date, self.settings.calendar)
            now = dt.datetime.now(dt.UTC)
            delay = (close - now).total_seconds() + self.settings.bar_settle_s if close is not None else 86_400.0
        session.timer = loop.call_later(max(delay, 0.0), self._emit, session.date)

    def _emit(self, day: np.datetime64) -> None:
        session = self._open.pop(day, None)
        if session is None:
            return
        if session.timer is not None:
            session.timer.cancel()
        self.last_date = day
        self._queue.put_nowait(self._row(day, session.bars))

    def _row(self, day: np.datetime64, values: dict[str, list[float]]) -> BarRow:
        out = {}
        for f in self.fields:
            k = FIELDS.index(f) if f in FIELDS else None
            col = np.full(len(self.symbols), np.nan)
            if k is not None:
                for j, s in enumerate(self.symbols):
                    v = values.get(s)
                    if v is not None and math.isfinite(v[k]):
                        col[j] = v[k]
            out[f] = col
        return BarRow(np.datetime64(str(day)[:10], "us"), out)


def _day(value: Any) -> np.datetime64:
    """A date (any datetime64 unit, or text) as datetime64[D]."""
    return np.datetime64(str(value)[:10], "D")


def _session_date(value: Any) -> np.datetime64:
    """A historical bar's date (a date, or a datetime in any zone: its UTC date) as datetime64[us] midnight."""
    if isinstance(value, dt.datetime):
        value = utc(value).date()
    return np.datetime64(value, "D").astype("datetime64[us]")


def _duration_since(origin: np.datetime64) -> str:
    """An IB duration reaching back to ``origin`` (days up to a year, whole years beyond).

    Examples
    --------
    >>> _duration_since(np.datetime64("2000-01-01")) .endswith(" Y")
    True
    """
    today = np.datetime64(dt.datetime.now(dt.UTC).date(), "D")
    days = int((today - _day(origin)) / DAY) + 7
    return f"{days} D" if days <= 365 else f"{math.ceil(days / 365)} Y"


def _session_close(day: np.datetime64, calendar: str) -> dt.datetime | None:
    import warnings

    import exchange_calendars as xcals
    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cal = xcals.get_calendar(calendar)
        date = pd.Timestamp(str(day)[:10])
        if not cal.is_session(date):
            return None
        close: dt.datetime = cal.session_close(date).to_pydatetime()
    return close.astimezone(dt.UTC)
