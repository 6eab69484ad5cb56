"""Helpers for the IB venue tests: qt's router, store and IBBroker over the real ib_async client and the simulator."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qt.live.guard import GuardSettings, RiskGuard
from qt.live.ib.broker import IBBroker
from qt.live.ib.config import IBSettings
from qt.live.ib.connection import IBConnection
from qt.live.ibsim.simulator import GatewaySimulator
from qt.live.recovery import reconcile
from qt.live.router import RoutedVenue, RouterSettings
from qt.live.store import LiveStore, SqliteStoreSettings, open_from_settings
from qt.types import FillBatch, OrderBatch

T0 = dt.datetime(2024, 1, 5, tzinfo=dt.UTC)


@dataclass
class Venue:
    """One qt-side stack connected to a simulator."""

    ib: Any
    broker: IBBroker
    connection: IBConnection
    router: RoutedVenue
    store: LiveStore
    symbols: tuple[str, ...]
    batches: list[FillBatch]

    def submit(self, quantities: dict[str, float], t: int = 0) -> None:
        """Route one decision's orders (symbol -> signed shares)."""
        assets = np.array([self.symbols.index(s) for s in quantities], dtype=np.intp)
        self.router.submit(OrderBatch(t, assets, np.array(list(quantities.values()), dtype=float)), t)

    async def settle(self, done: Any, timeout: float = 5.0, t: int = 0) -> bool:
        """Poll the router until ``done()`` holds."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while loop.time() < end:
            self.batches += self.router.poll(t)
            if done():
                return True
            await asyncio.sleep(0.01)
        self.batches += self.router.poll(t)
        return bool(done())

    async def close(self) -> None:
        await self.connection.close()
        self.store.close()


async def open_venue(gw: GatewaySimulator, folder: Path, *, client_id: int = 7, **overrides: Any) -> Venue:
    """Connect qt's IB stack to ``gw`` (store in ``folder``), reconcile, and make it available."""
    from ib_async import IB

    symbols = tuple(gw.market.symbols)
    options: dict[str, Any] = {"connect_timeout_s": 3, "reconnect_base_s": 0.05, "reconnect_cap_s": 0.2}
    settings = IBSettings(port=gw.port, client_id=client_id, **{**options, **overrides})
    store = open_from_settings(SqliteStoreSettings(), state_dir=folder, run_name="ibtest")
    ib = IB()
    broker = IBBroker(ib=ib, settings=settings, symbols=symbols, stored_max_id=store.max_broker_order_id(),
                      intents=lambda cid: (o.intent.quantity if (o := store.order(cid)) else None))  # fmt: skip
    connection = IBConnection(
        ib=ib, settings=settings, broker=broker, alert=lambda m, s: store.record_alert(m, severity=s)
    )
    router = RoutedVenue(broker=broker, store=store, guard=RiskGuard(GuardSettings(max_orders_per_minute=1000)),
                         symbols=symbols, run_name="ibtest", settings=RouterSettings())  # fmt: skip
    router.new_bar(T0, np.array([gw.market.last_price(s) or np.nan for s in symbols]))
    await connection.open()
    await broker.on_connected()
    reconcile(store, broker, adopt=False, now=T0)

    async def resync(resubscribe: bool) -> None:
        broker.resync_executions()
        router.sync(0)
        reconcile(store, broker, adopt=False, now=T0)

    connection.on_resync = resync
    broker.available = True
    return Venue(ib, broker, connection, router, store, symbols, [])


def ib_commission(shares: float, price: float) -> float:
    """IB's fixed pricing, worked out from its published schedule: $0.005/share, min $1, max 1% of value."""
    return min(max(1.0, 0.005 * abs(shares)), 0.01 * abs(shares) * price)


class GatewayThread:
    """A simulator on its own event loop in a thread (so a qt process or loop elsewhere can be killed or busy)."""

    def __init__(self, **kwargs: Any) -> None:
        import threading

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.gw: GatewaySimulator = self.call(self._start(kwargs))

    async def _start(self, kwargs: dict[str, Any]) -> GatewaySimulator:
        return await GatewaySimulator(**kwargs).start()

    def call(self, coro: Any, timeout: float = 30.0) -> Any:
        """Run ``coro`` on the gateway's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def run(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a plain function on the gateway's loop (the simulator is not thread-safe)."""

        async def go() -> Any:
            return fn(*args, **kwargs)

        return self.call(go())

    def wait_until(self, predicate: Any, timeout: float = 10.0) -> bool:
        import time

        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.run(predicate):
                return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        self.call(self.gw.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
