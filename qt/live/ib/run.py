"""The live session over Interactive Brokers (TWS, IB Gateway or ``qt ib-gateway``); ``qt.runs.live_ib`` runs it.

Order of business: connect fail-closed (nothing happens until the gateway synchronized
positions, open orders, completed orders and executions) -> reconcile the store with the
account (recovery: fills while qt was down booked once, unsent intents marked, foreign orders
reported, position breaks halt) -> warm up from IB's daily history -> subscribe to real-time
bars -> drive the session bar by bar until SIGTERM/SIGINT (or ``broker.stop_after_bars``).
A dropped connection denies orders until qt reconnected and resynchronized.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from qt.data.panel import BarPanel
from qt.enums import Field
from qt.errors import ConfigError
from qt.live.history import BarRow, History
from qt.live.ib.config import IBSettings
from qt.live.settings import LiveSettings
from qt.live.store import EventKind, LiveStore

log = logging.getLogger("qt")
ORIGIN_KEY = "ib_history_origin"


def ib_settings(cfg: DictConfig) -> IBSettings:
    """The validated ``broker`` block (ConfigError naming the key otherwise)."""
    from pydantic import ValidationError

    raw = OmegaConf.to_container(OmegaConf.select(cfg, "broker"), resolve=True)
    try:
        return IBSettings.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(".".join(["broker", *map(str, err["loc"])]), str(err["msg"])) from None


async def ib_session(
    parts: Any, panel: BarPanel, settings: LiveSettings, s: IBSettings, store: LiveStore, build_driver: Any
) -> History:
    """Connect, reconcile, warm up and drive the session until it stops; the bars seen (warm-up included).

    ``build_driver`` is ``qt.runs.live.build_driver`` (the session, router and guard over a broker).
    """
    from ib_async import IB

    from qt.live.ib.broker import IBBroker
    from qt.live.ib.connection import IBConnection
    from qt.live.ib.feed import IBFeed
    from qt.live.recovery import reconcile

    def alert(message: str, severity: str = "warning") -> None:
        store.record_alert(message, severity=severity)
        (log.error if severity == "critical" else log.warning)("IB: %s", message)

    ib = IB()

    def intent(client_order_id: str) -> float | None:
        record = store.order(client_order_id)
        return record.intent.quantity if record is not None else None

    broker = IBBroker(ib=ib, settings=s, symbols=panel.symbols, stored_max_id=store.max_broker_order_id(),
                      intents=intent)  # fmt: skip
    connection = IBConnection(ib=ib, settings=s, broker=broker, alert=alert)
    await connection.open()  # fail closed: raises unless synchronized
    feed: IBFeed | None = None
    try:
        await broker.on_connected()
        now = dt.datetime.now(dt.UTC)
        capital = parts.settings.capital
        if not store.events(limit=1):
            store.deposit(capital, reason="initial capital", time=now)
        recon = reconcile(store, broker, adopt=settings.adopt_positions, now=now)
        if not recon.clean:
            log.error("reconciliation: positions differ from the broker's: %s; trading HALTED", recon.report())
        store.record_event(EventKind.HEALTH, {"status": "connected", "gateway": connection.where,
                                              "server_version": ib.client.serverVersion(),
                                              "readonly": s.readonly}, time=now)  # fmt: skip
        fields = tuple(f for f in panel.fields if f in (Field.OPEN, Field.HIGH, Field.LOW, Field.CLOSE, Field.VOLUME))
        feed = IBFeed(ib=ib, broker=broker, fields=fields or (Field.CLOSE,), settings=s)
        origin = _origin(store)
        warm = await feed.warmup(origin)
        if not warm:
            raise ConfigError("broker.warmup", f"the gateway returned no daily history over '{s.warmup}'")
        if origin is None:
            store.record_event(EventKind.HEALTH, {ORIGIN_KEY: str(warm[0].timestamp)}, time=now)
        history = History(panel.symbols, feed.fields, tz=panel.tz, name=panel.name)
        for row in warm:
            history.append(row)
        driver = build_driver(parts, settings, store, broker, history, feed, capital)
        driver.on_bar = lambda bar: _prices(broker, bar)
        driver.notify = lambda message: alert(message, "critical")
        if warm:
            _prices(broker, warm[-1])

        async def resync(resubscribe: bool) -> None:
            t = history.n - 1
            broker.resync_executions()
            driver.router.sync(t)  # fills while disconnected: booked now, handed to the session at its next poll
            result = reconcile(store, broker, adopt=False, now=dt.datetime.now(dt.UTC))
            if not result.clean:
                alert("after reconnecting, positions differ from the broker's: " + result.report(), "critical")
            if resubscribe and feed is not None:
                feed.subscribe()

        connection.on_resync = resync
        feed.subscribe()
        broker.available = True
        log.info("IB: %d warm-up bars up to %s; waiting for live bars", len(warm), warm[-1].timestamp)
        done = await driver.run()
        log.info("IB: %d live bars processed", done)
        await _flush(broker)  # orders still queued by the pacer go out before the connection closes ...
        driver.router.sync(history.n - 1)  # ... and their acknowledgements and fills are booked
        return history
    finally:
        await connection.close()


async def _flush(broker: Any, *, settle_s: float = 0.05) -> None:
    """Wait until the pacer has sent every queued order (never drop one at shutdown), then let the news arrive."""
    pacer = broker.pacer
    deadline = asyncio.get_running_loop().time() + len(pacer.waiting()) / max(pacer.rate, 1e-9) + 5.0
    while pacer.waiting() and asyncio.get_running_loop().time() < deadline:
        pacer.drain()
        await asyncio.sleep(0.02)
    if pacer.waiting():
        log.error("IB: %d paced messages could not be sent before shutdown", len(pacer.waiting()))
    await asyncio.sleep(settle_s)


def _origin(store: LiveStore) -> np.datetime64 | None:
    """The first warm-up bar of this state folder (kept so bar numbers stay the same across restarts)."""
    for event in store.events(kinds=[EventKind.HEALTH]):
        if ORIGIN_KEY in event.payload:
            return np.datetime64(event.payload[ORIGIN_KEY], "us")
    return None


def _prices(broker: Any, bar: BarRow) -> None:
    close = bar.values.get(Field.CLOSE)
    if close is None:
        return
    for s, p in zip(broker.symbols, close.tolist(), strict=True):
        if p == p:
            broker.last_prices[s] = float(p)
