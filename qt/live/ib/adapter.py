"""``broker=ib``: Interactive Brokers (TWS, IB Gateway or ``qt ib-gateway``) as a live-node adapter.

``connect`` is fail closed: nothing happens until the gateway synchronized positions, open orders,
completed orders and executions. ``warm_up`` loads IB's daily history from the folder's first
warm-up bar (kept so bar numbers stay the same across restarts); bars that passed while qt was down
come first from the feed, marked at their prices. ``start`` subscribes to real-time bars and lets
orders through; a dropped connection denies orders until qt reconnected and resynchronized (the
node's ``resync`` books the news and reconciles). ``flush`` sends what the pacer still holds.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

import numpy as np

from qt.data.panel import BarPanel
from qt.enums import Field
from qt.errors import ConfigError
from qt.live.adapter import NodeContext, Warmup
from qt.live.history import BarRow, History
from qt.live.ib.config import IBSettings
from qt.live.journal import Connected, HistoryOrigin
from qt.live.store import LiveStore

log = logging.getLogger("qt")


class IBAdapter(IBSettings):
    """``conf/broker/ib.yaml``: the gateway's address and how qt talks to it (see :class:`IBSettings`)."""

    def open(self, ctx: NodeContext) -> IBLink:
        """The link for one run (nothing connects before ``connect``)."""
        return IBLink(ctx, self)


class IBLink:
    """One run's connection to the gateway (see :class:`qt.live.adapter.BrokerLink`)."""

    market_clock = False  # the order-rate guard counts wall time

    def __init__(self, ctx: NodeContext, settings: IBSettings) -> None:
        self.ctx = ctx
        self.settings = settings
        self._broker: Any = None
        self._connection: Any = None
        self._feed: Any = None
        self._history: History | None = None
        self._last_warm: BarRow | None = None

    @property
    def broker(self) -> Any:
        """The IB broker (after ``connect``)."""
        if self._broker is None:
            raise RuntimeError("the IB link is not connected")
        return self._broker

    async def connect(self) -> None:
        """Connect and synchronize (raises unless complete); order ids continue after the highest stored one."""
        from ib_async import IB

        from qt.live.ib.broker import IBBroker
        from qt.live.ib.connection import IBConnection

        store, s = self.ctx.store, self.settings
        ib = IB()

        def intent(client_order_id: str) -> float | None:
            record = store.order(client_order_id)
            return record.intent.quantity if record is not None else None

        self._broker = IBBroker(ib=ib, settings=s, symbols=self.ctx.panel.symbols,
                                stored_max_id=store.max_broker_order_id(), intents=intent,
                                run_name=self.ctx.settings.name)  # fmt: skip
        self._connection = IBConnection(ib=ib, settings=s, broker=self._broker, alert=self.ctx.alert,
                                        on_resync=self._resync)  # fmt: skip
        await self._connection.open()  # fail closed: raises unless synchronized
        await self._broker.on_connected()

    def now(self) -> dt.datetime:
        """The wall clock (UTC)."""
        return dt.datetime.now(dt.UTC)

    async def warm_up(self) -> Warmup:
        """IB's daily history from the folder's origin; bars after the last recorded one are queued to step first."""
        from qt.live.ib.feed import IBFeed

        store, panel, s = self.ctx.store, self.ctx.panel, self.settings
        now = self.now()
        ib = self.broker.ib
        store.record(Connected(self._connection.where, int(ib.client.serverVersion()), s.readonly), time=now)
        fields = tuple(f for f in panel.fields if f in (Field.OPEN, Field.HIGH, Field.LOW, Field.CLOSE, Field.VOLUME))
        self._feed = feed = IBFeed(ib=ib, broker=self.broker, fields=fields or (Field.CLOSE,), settings=s)
        origin = _origin(store)
        warm = await feed.warmup(origin)
        if not warm:
            raise ConfigError("broker.warmup", f"the gateway returned no daily history over '{s.warmup}'")
        if origin is None:
            store.record(HistoryOrigin(str(warm[0].timestamp), str(warm[-1].timestamp)), time=now)
        history = History(panel.symbols, feed.fields, tz=panel.tz, name=panel.name)
        for row in feed.catch_up(warm, _recorded_until(store)):  # later bars passed while qt was down: stepped first
            history.append(row)
        self._history = history
        self._last_warm = warm[-1]
        log.info("IB: %d warm-up bars up to %s", len(warm), warm[-1].timestamp)
        return Warmup(history, feed, missed=len(warm) - history.n)

    def on_bar(self, bar: BarRow) -> None:
        """The broker's last prices (limit orders are priced from them)."""
        _prices(self.broker, bar)

    def start(self) -> None:
        """Subscribe to real-time bars and let orders through."""
        if self._last_warm is not None:
            _prices(self.broker, self._last_warm)
        self._feed.subscribe()
        self.broker.available = True
        log.info("IB: waiting for live bars")

    async def flush(self, *, settle_s: float = 0.05) -> None:
        """Wait until the pacer has sent every queued order (never drop one at shutdown), then let the news arrive."""
        pacer = self.broker.pacer
        loop = asyncio.get_running_loop()
        deadline = loop.time() + len(pacer.waiting()) / max(pacer.rate, 1e-9) + 5.0
        while pacer.waiting() and loop.time() < deadline:
            pacer.drain()
            await asyncio.sleep(0.02)
        if pacer.waiting():
            log.error("IB: %d paced messages could not be sent before shutdown", len(pacer.waiting()))
        await asyncio.sleep(settle_s)

    def bars(self) -> BarPanel:
        """Every bar from the folder's origin (warm-up included) up to the last one seen."""
        if self._history is None:
            raise RuntimeError("the IB link has no history before warm_up")
        return self._history.panel()

    async def close(self) -> None:
        """End the feed (subscriptions, timers) and the connection."""
        if self._feed is not None:
            self._feed.close()
        if self._connection is not None:
            await self._connection.close()

    async def _resync(self, resubscribe: bool) -> None:
        """After a reconnect: executions again, then the node books the news and reconciles; bars again if lost."""
        self.broker.resync_executions()
        await self.ctx.resync()
        if resubscribe and self._feed is not None:
            self._feed.subscribe()


def _recorded_until(store: LiveStore) -> np.datetime64 | None:
    """The last bar this folder's runs recorded, or the first start's last warm-up bar (None: a first start)."""
    last = store.last_bar()
    if last is not None:
        return np.datetime64(last.time.replace(tzinfo=None), "us")
    for event in store.events(kinds=[HistoryOrigin], limit=1):
        end = event.record.warm_end
        return None if end is None else np.datetime64(end, "us")
    return None


def _origin(store: LiveStore) -> np.datetime64 | None:
    """The first warm-up bar of this state folder (kept so bar numbers stay the same across restarts)."""
    for event in store.events(kinds=[HistoryOrigin], limit=1):
        return np.datetime64(event.record.origin, "us")
    return None


def _prices(broker: Any, bar: BarRow) -> None:
    close = bar.values.get(Field.CLOSE)
    if close is None:
        return
    for s, p in zip(broker.symbols, close.tolist(), strict=True):
        if p == p:
            broker.last_prices[s] = float(p)
