"""The connection to TWS / IB Gateway: connect fail-closed, watch it, reconnect and resynchronize.

``open`` connects with ``raiseSyncErrors=True``: positions, open orders, completed orders and
executions must all be synchronized, else no decision is made and no order sent. A server
version outside the range qt supports is refused; error 326 (client id in use) names
``broker.client_id``. A dropped connection makes the broker unavailable (orders are DENIED),
then qt reconnects with capped exponential backoff and jitter, resynchronizes (``on_resync``:
recovery's reconciliation and market-data resubscription) and only then trades again. IB's
1100 pauses trading, 1101 resynchronizes and resubscribes, 1102 resumes. After
``alert_after_disconnect_minutes`` without a connection, one alert is raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

from qt.config.secrets import remember_secret
from qt.errors import ConfigError, QtError
from qt.live.ib.broker import IBBroker
from qt.live.ib.config import IBSettings

log = logging.getLogger("qt")


class IBConnectionError(QtError):
    """qt could not get a synchronized connection to the gateway (the message says why and what to do)."""


class IBConnection:
    """Owns the ``ib_async.IB`` connection's life cycle for one run."""

    def __init__(
        self,
        *,
        ib: Any,
        settings: IBSettings,
        broker: IBBroker,
        alert: Callable[[str, str], None] = lambda message, severity: None,
        rng: random.Random | None = None,
        on_resync: Callable[[bool], Awaitable[None]] | None = None,
    ) -> None:
        self.ib = ib
        self.settings = settings
        self.broker = broker
        self.alert = alert
        self.on_resync = on_resync  # (resubscribe market data) -> None, after a reconnect and resynchronization
        self.rng = rng or random.Random()
        self.reconnects = 0
        self.paused = False
        self._codes: list[int] = []
        self._closing = False
        self._connecting = False
        self._task: asyncio.Task[None] | None = None
        self._down_since: float | None = None
        self.failed: BaseException | None = None  # a reconnect/resync task's failure (alerted when it happened)
        ib.errorEvent += self._on_error
        ib.disconnectedEvent += self._on_disconnected

    @property
    def where(self) -> str:
        """host:port of the gateway."""
        return f"{self.settings.host}:{self.settings.port}"

    async def open(self) -> None:
        """Connect and synchronize, retrying ``connect_attempts`` times with backoff; raise a clear error else."""
        last: QtError | None = None
        began = time.monotonic()
        for attempt in range(self.settings.connect_attempts):
            if attempt:
                await asyncio.sleep(self.settings.backoff(attempt - 1, self.rng))
            try:
                await self._connect_once()
                return
            except ConfigError:
                raise
            except IBConnectionError as exc:
                last = exc
                log.info("IB: connect attempt %d/%d failed: %s", attempt + 1, self.settings.connect_attempts, exc)
        assert last is not None
        n = self.settings.connect_attempts
        raise IBConnectionError(
            f"{last}; gave up after {n} attempt{'s' if n > 1 else ''} in {time.monotonic() - began:.0f} s "
            f"(broker.connect_attempts={n})"
        )

    async def close(self) -> None:
        """Disconnect for good (no reconnect)."""
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.broker.available = False
        left = self.broker.pacer.withdraw()  # its timer too: nothing is sent after close
        if left:
            log.warning("IB: %d paced messages dropped at close (orders among them are reconciled at restart)",
                        len(left))  # fmt: skip
        if self.ib.isConnected():
            self.ib.disconnect()

    # -- one attempt ---------------------------------------------------------------------
    async def _connect_once(self) -> None:
        self._connecting = True
        try:
            await self._attempt()
        finally:
            self._connecting = False

    async def _attempt(self) -> None:
        s = self.settings
        self._codes.clear()
        remember_secret(s.account_id)  # ib_async logs account ids: scrubbed from every log line and message
        try:
            await self.ib.connectAsync(s.host, s.port, clientId=s.client_id, timeout=s.connect_timeout_s,
                                       account=s.account_id, raiseSyncErrors=True)  # fmt: skip
        except ConnectionRefusedError:
            raise IBConnectionError(
                f"no IB gateway at {self.where}: start TWS or IB Gateway with the API enabled on that port "
                f"(broker.host, broker.port), or rehearse with `qt ib-gateway --port {s.port}`"
            ) from None
        except (ConnectionError, TimeoutError, OSError) as exc:
            self._raise_for(exc)
        remember_secret(*self.ib.managedAccounts())
        version = self.ib.client.serverVersion()
        if not s.min_server_version <= version <= s.max_server_version:
            self.ib.disconnect()
            raise IBConnectionError(
                f"the gateway at {self.where} speaks API server version {version}; qt supports "
                f"{s.min_server_version}..{s.max_server_version}: update TWS / IB Gateway (or set "
                "broker.min_server_version / broker.max_server_version if you have tested another version)"
            )
        if s.account_id and s.account_id not in self.ib.managedAccounts():
            self.ib.disconnect()
            raise ConfigError("broker.account", "the gateway's login does not manage the account in $QT_IB_ACCOUNT")
        log.info("IB: connected to %s as client %d (server version %d); synchronized", self.where, s.client_id, version)

    def _raise_for(self, exc: BaseException) -> None:
        s = self.settings
        if 326 in self._codes:
            raise ConfigError(
                "broker.client_id",
                f"client id {s.client_id} is already in use at the gateway {self.where}: another program (or another "
                "qt) is connected with it; give this run another broker.client_id",
            )
        text = "; ".join(str(e) for e in exc.args[0]) if exc.args and isinstance(exc.args[0], list) else str(exc)
        if "timed out" in text and isinstance(exc, ConnectionError):
            raise IBConnectionError(
                f"the gateway at {self.where} did not finish synchronizing ({text}) within "
                f"broker.connect_timeout_s={s.connect_timeout_s:g}: qt makes no decision and sends no order until "
                "positions, open orders, completed orders and executions are synchronized"
            ) from None
        raise IBConnectionError(
            f"could not connect to the gateway at {self.where}: {text or type(exc).__name__} "
            f"(within broker.connect_timeout_s={s.connect_timeout_s:g})"
        ) from None

    # -- events --------------------------------------------------------------------------
    def _on_error(self, req_id: int, code: int, text: str, *args: Any) -> None:
        self._codes.append(code)
        if code == 1100:
            self.paused = True
            self.broker.available = False
            self.alert(f"IB connectivity lost (1100): trading paused until it is restored: {text}", "warning")
        elif code in (1101, 1102) and self.paused:
            self.paused = False
            lost = code == 1101
            self.alert(f"IB connectivity restored ({code}{', data lost: resubscribing' if lost else ''})", "info")
            self._spawn(self._resync(resubscribe=lost))

    def _on_disconnected(self) -> None:
        self.broker.disconnected()
        if self._closing or self._connecting:
            return
        self._down_since = time.monotonic()
        self.alert(f"IB gateway {self.where} disconnected: no orders until reconnected and resynchronized", "warning")
        self._spawn(self._reconnect())

    def _spawn(self, coro: Awaitable[None]) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = asyncio.ensure_future(coro)
        self._task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Future[None]) -> None:
        """A reconnect or resync task ended: a failure is alerted at once (trading stays paused), never silent."""
        if task.cancelled() or task.exception() is None:
            return
        self.failed = task.exception()
        self.broker.available = False
        self.alert(f"IB reconnect/resync failed: {self.failed!r}; no orders are sent until qt is restarted", "critical")
        log.error("IB: reconnect/resync task failed", exc_info=self.failed)

    async def _reconnect(self) -> None:
        """Reconnect forever with capped exponential backoff and jitter; resync; then trade again."""
        attempt, alerted = 0, False
        while not self._closing:
            await asyncio.sleep(self.settings.backoff(attempt, self.rng))
            attempt += 1
            down = time.monotonic() - (self._down_since or time.monotonic())
            if not alerted and down >= 60 * self.settings.alert_after_disconnect_minutes:
                alerted = True
                self.alert(f"IB gateway {self.where} disconnected for {down / 60:.1f} minutes", "critical")
            try:
                await self._connect_once()
            except ConfigError as exc:
                self.alert(f"IB reconnect refused: {exc}", "critical")
                continue
            except IBConnectionError as exc:
                log.warning("IB: reconnect attempt %d failed: %s", attempt, exc)
                continue
            self.reconnects += 1
            await self._resync(resubscribe=True)
            return

    async def _resync(self, *, resubscribe: bool) -> None:
        await self.broker.on_connected()
        if self.on_resync is not None:
            await self.on_resync(resubscribe)
        self.paused = False
        self.broker.available = True
        self._down_since = None
        log.info("IB: resynchronized; trading resumes")
