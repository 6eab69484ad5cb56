"""The IB feed's aggregation of IB's 5-second real-time bars into one bar per session, with ib_async's own objects."""

from __future__ import annotations

import asyncio
import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np

from qt.enums import Field
from qt.live.ib.broker import IBBroker
from qt.live.ib.config import IBSettings
from qt.live.ib.feed import IBFeed

NY = ZoneInfo("America/New_York")


def _send(feed: IBFeed, symbol: str, rows: list[tuple[dt.datetime, float, float, float, float, float]]) -> None:
    """Deliver ``rows`` one by one as ib_async does: the list grows, the event fires with it."""
    from ib_async import RealTimeBar, RealTimeBarList, Stock

    bars = RealTimeBarList()
    bars.contract = Stock(symbol, "SMART", "USD")
    for t, o, h, lo, c, v in rows:
        bars.append(RealTimeBar(time=t, open_=o, high=h, low=lo, close=c, volume=v))
        feed._on_bars(bars, True)


def test_five_second_bars_become_one_session_bar_at_the_close() -> None:
    from ib_async import IB

    async def body() -> None:
        settings = IBSettings(bar_settle_s=0.05)
        broker = IBBroker(ib=IB(), settings=settings, symbols=["AAPL", "MSFT"])
        fields = (Field.OPEN, Field.HIGH, Field.LOW, Field.CLOSE, Field.VOLUME)
        feed = IBFeed(ib=broker.ib, broker=broker, fields=fields, settings=settings)
        day = dt.date(2024, 1, 2)  # NYSE closes at 16:00 New York time = 21:00 UTC
        at = lambda h, m, s: dt.datetime(day.year, day.month, day.day, h, m, s, tzinfo=NY)  # noqa: E731
        _send(feed, "AAPL", [(at(9, 30, 0), 100, 101, 99.5, 100.5, 10), (at(12, 0, 0), 100.5, 103, 100, 102, 5),
                             (at(15, 59, 55), 102, 102.5, 101, 101.5, 7)])  # fmt: skip
        _send(feed, "MSFT", [(at(9, 30, 0), 300, 300, 298, 299, 3)])
        assert feed._queue.empty()  # MSFT's session has not closed yet
        _send(feed, "MSFT", [(at(15, 59, 55), 299, 305, 299, 304, 4)])
        bar = feed._queue.get_nowait()
        assert bar.timestamp == np.datetime64("2024-01-02T00:00", "us")
        v = {f: bar.values[f].tolist() for f in feed.fields}
        # worked out by hand: first open, highest high, lowest low, last close, summed volume
        assert v[Field.OPEN] == [100, 300]
        assert v[Field.HIGH] == [103, 305]
        assert v[Field.LOW] == [99.5, 298]
        assert v[Field.CLOSE] == [101.5, 304]
        assert v[Field.VOLUME] == [22, 7]
        # a later bar of a session already handed out is ignored; the next session starts afresh
        _send(feed, "AAPL", [(at(15, 59, 55), 1, 1, 1, 1, 1)])
        assert feed._queue.empty()
        assert feed.next_due(bar.timestamp) == np.datetime64("2024-01-03T00:00", "us")
        assert feed.next_due(np.datetime64("2024-07-03", "us")) == np.datetime64("2024-07-05T00:00", "us")

    asyncio.run(body())


def test_a_session_with_a_silent_symbol_completes_after_the_settle_time() -> None:
    from ib_async import IB

    async def body() -> None:
        settings = IBSettings(bar_settle_s=0.05)
        broker = IBBroker(ib=IB(), settings=settings, symbols=["AAPL", "MSFT"])
        feed = IBFeed(ib=broker.ib, broker=broker, fields=(Field.CLOSE,), settings=settings)
        midnight = dt.datetime(2024, 1, 3, tzinfo=dt.UTC)  # the simulator's whole-session bar
        _send(feed, "AAPL", [(midnight, 10, 11, 9, 10.5, 100)])
        assert feed._queue.empty()
        bar = await asyncio.wait_for(feed._queue.get(), 2)
        assert bar.values[Field.CLOSE][0] == 10.5 and np.isnan(bar.values[Field.CLOSE][1])

    asyncio.run(body())
