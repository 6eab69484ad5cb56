"""A local gateway that speaks the TWS API protocol well enough for the unmodified ib_async client.

It is a paper broker for rehearsals (``qt ib-gateway``) and for tests (in-process on port 0):
broker state (``Broker``) outlives client sessions, orders are answered as the per-test
``Script`` says, bars come from a qt ``BarPanel`` replayed bar by bar, and every message
received is kept in ``record``. No socket operation waits without a timeout. With ``state_file``
the account (and the replay clock) is kept on disk across simulator processes; with
``record_file`` every message received and sent is appended to a JSON-lines file.

Examples
--------
>>> import asyncio
>>> from qt.testing.panels import daily_panel
>>> async def main():
...     async with GatewaySimulator(panel=daily_panel([[10.0], [11.0]], symbols=["AAPL"])) as gw:
...         return gw.port > 0, gw.server_version
>>> asyncio.run(main())
(True, 178)
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from qt.data.panel import BarPanel
from qt.live.ibsim import messages as msg
from qt.live.ibsim import orders as sim_orders
from qt.live.ibsim import requests as sim_requests
from qt.live.ibsim import state as account_state
from qt.live.ibsim.broker import Broker, SimExecution, SimOrder, contract_id
from qt.live.ibsim.market import MarketReplay
from qt.live.ibsim.recorder import Recorder
from qt.live.ibsim.script import Record, Script
from qt.live.ibsim.session import Session
from qt.live.ibsim.wire import (
    SERVER_VERSION,
    SUPPORTED_SERVER_VERSIONS,
    InMsg,
    OutMsg,
    WireError,
    decode,
    encode_handshake_reply,
    read_frame,
    read_handshake,
)

log = logging.getLogger(__name__)

#: IB's notices after a successful connect: market data, historical data and sec-def farms are fine.
FARM_NOTICES = (
    (2104, "Market data farm connection is OK:usfarm"),
    (2106, "HMDS data farm connection is OK:ushmds"),
    (2158, "Sec-def data farm connection is OK:secdefnj"),
)
#: Seconds over which account and portfolio updates after fills are batched.
ACCOUNT_PUSH_DELAY = 0.02
CONNECTIVITY_TEXT = {
    1100: "Connectivity between IB and Trader Workstation has been lost.",
    1101: "Connectivity between IB and Trader Workstation has been restored - data lost.",
    1102: "Connectivity between IB and Trader Workstation has been restored - data maintained.",
}


class GatewaySimulator:
    """The simulated gateway. Start with ``await gw.start()`` (or ``async with``), stop with ``await gw.stop()``.

    Parameters
    ----------
    panel : the bars the gateway serves; its symbols are the contracts it knows.
    broker : account state (default: a fresh ``Broker``); pass one to share it across simulator objects.
    script : how orders are answered (default: fill at once at the last price).
    start : the bar index that is "now" (negative counts from the end); later bars are replayed.
    host, port : where to listen (port 0: any free port, see ``gw.port``).
    server_version : the version answered in the handshake (ib_async speaks 157..178).
    bar_interval : seconds between replayed bars when streaming; None: only ``await gw.step()`` advances.
    time_zone : the zone execution times are written in (TWS writes its own local zone).
    max_message_rate : enforce IB's pacing: a session sending more messages than this within one second
        gets error 100 and is disconnected, as TWS does (None: no limit; TWS's limit is 50).
    handshake_timeout, idle_timeout : seconds a client may stay silent during the handshake / afterwards.
    state_file : keep the account in this JSON file: loaded when it exists (then ``broker`` only gives the
        account id), written atomically after every change and at stop. A clock kept in it is where the
        replay resumes unless ``resume_clock`` is False (then ``start`` holds).
    record_file : append every message received and sent to this JSON-lines file (see ``recorder``).
    """

    def __init__(
        self,
        *,
        panel: BarPanel,
        broker: Broker | None = None,
        script: Script | None = None,
        start: int = -253,
        host: str = "127.0.0.1",
        port: int = 0,
        server_version: int = SERVER_VERSION,
        bar_interval: float | None = None,
        time_zone: str = "UTC",
        handshake_timeout: float = 5.0,
        max_message_rate: int | None = None,
        idle_timeout: float = 86_400.0,
        write_buffer_limit: int = 64 * 1024 * 1024,
        state_file: Path | None = None,
        resume_clock: bool = True,
        record_file: Path | None = None,
    ) -> None:
        if server_version not in SUPPORTED_SERVER_VERSIONS:
            raise ValueError(
                f"server_version {server_version} is outside what the simulator encodes "
                f"({SUPPORTED_SERVER_VERSIONS.start}..{SUPPORTED_SERVER_VERSIONS.stop - 1})"
            )
        self.market = MarketReplay(panel, start)
        self.broker = broker or Broker()
        self.state_file = state_file
        self.state_loaded = False  # whether ``state_file`` held an account when the simulator was made
        self.resumed_from: datetime | None = None
        self._keeper: account_state.StateKeeper | None = None
        if state_file is not None:
            self._load_state(state_file, resume_clock)
        self.record_file = record_file
        self.recorder: Recorder | None = None
        self.script = script or Script()
        self.record = Record()
        self.errors: list[str] = []
        self.host, self.port = host, port
        self.server_version = server_version
        self.bar_interval = bar_interval
        self.zone = ZoneInfo(time_zone)
        self.handshake_timeout, self.idle_timeout = handshake_timeout, idle_timeout
        self._write_limit = write_buffer_limit
        self.max_message_rate = max_message_rate
        self._server: asyncio.Server | None = None
        self._sessions: dict[int, Session] = {}
        self._session_tasks: set[asyncio.Task[None]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._numbers = itertools.count(1)
        self._streamer: asyncio.Task[None] | None = None
        self._changed: set[str] = set()
        self._by_con_id = {contract_id(s): s for s in self.market.symbols}

    # -- life cycle -------------------------------------------------------------
    async def start(self) -> GatewaySimulator:
        """Listen on ``host:port`` (``gw.port`` holds the real port afterwards) and start the replay clock."""
        if self._keeper is not None:
            self._keeper.save()
        if self.record_file is not None and self.recorder is None:
            self.recorder = Recorder(self.record_file, own_account=self.broker.account)
        await self._listen()
        if self.recorder is not None:
            self.recorder.event(
                "start", port=self.port, server_version=self.server_version, account=self.broker.account,
                now=self.market.timestamp().isoformat(), next_valid_id=self.broker.next_valid_id,
            )  # fmt: skip
        if self.bar_interval is not None:
            self.start_streaming(self.bar_interval)
        return self

    async def stop(self, timeout: float = 2.0) -> None:
        """Close the listener and every session and cancel pending work; never waits more than ``timeout``."""
        await self._close_listener(timeout)
        for task in list(self._tasks):
            task.cancel()
        self._drop_all()
        pending = self._tasks | self._session_tasks
        if pending:
            await asyncio.wait(pending, timeout=timeout)
        if self._keeper is not None:
            self._keeper.save()
        if self.recorder is not None:
            self.recorder.event("stop", orders=len(self.broker.orders), executions=len(self.broker.executions))
            self.recorder.close()
            self.recorder = None

    async def __aenter__(self) -> GatewaySimulator:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) the gateway listens on."""
        return self.host, self.port

    @property
    def sessions(self) -> list[Session]:
        """Connected sessions, oldest first."""
        return [s for _, s in sorted(self._sessions.items())]

    @property
    def client_ids(self) -> list[int]:
        """Client ids of the sessions that started the API."""
        return [s.client_id for s in self.sessions if s.client_id is not None]

    # -- what tests and rehearsals do -----------------------------------------------
    async def step(self, bars: int = 1) -> int:
        """Advance the replay ``bars`` bars, streaming each to subscribers and working resting orders; returns how many."""
        done = 0
        for _ in range(bars):
            if not self.market.advance():
                break
            done += 1
            self.broker.changed()  # the clock moved: the state file keeps it
            self._publish_bar()
            sim_orders.work_resting(self)
        return done

    def start_streaming(self, interval: float) -> None:
        """Advance the replay one bar every ``interval`` seconds until the data ends (or ``stop_streaming``)."""
        self.stop_streaming()
        self.bar_interval = interval
        self._streamer = asyncio.ensure_future(self._stream(interval))
        self._tasks.add(self._streamer)
        self._streamer.add_done_callback(self._task_done)

    def stop_streaming(self) -> None:
        """Stop advancing the replay by itself (``step`` still works)."""
        if self._streamer is not None:
            self._streamer.cancel()
            self._streamer = None

    async def drop_connections(self) -> None:
        """Close every client connection at once (the broker keeps its state)."""
        self._drop_all()
        await asyncio.sleep(0)

    async def restart(self, *, next_valid_id: int | None = None, downtime: float = 0.0) -> None:
        """Simulate a gateway restart, keeping the broker's state.

        Every session and the listener close; after ``downtime`` s the gateway listens again on the
        same port, and ``next_valid_id`` (possibly lower than before) is what new sessions are told.
        """
        await self._close_listener(2.0)
        self._drop_all()
        if next_valid_id is not None:
            self.broker.next_valid_id = next_valid_id
            self.broker.changed()
        if self.recorder is not None:
            self.recorder.event("restart", next_valid_id=self.broker.next_valid_id, downtime=downtime)
        if downtime:
            await asyncio.sleep(downtime)
        await self._listen()

    def notify_all(self, code: int, text: str | None = None, req_id: int = -1) -> None:
        """Send an error/notice to every started session (e.g. 1100, 1101, 1102 or a 2100-range warning)."""
        for s in self.sessions:
            if s.client_id is not None:
                s.send(msg.error(req_id, code, text or CONNECTIVITY_TEXT.get(code, f"notice {code}"), s.version))

    def connectivity_lost(self) -> None:
        """IB's 1100: the gateway lost its connection to IB's servers."""
        self.notify_all(1100)

    def connectivity_restored(self, *, data_lost: bool = False) -> None:
        """IB's 1101 (data lost: resubscribe) or 1102 (data maintained)."""
        self.notify_all(1101 if data_lost else 1102)

    def fill(
        self, *, order_ref: str | None = None, order_id: int | None = None, quantity: float | None = None,
        price: float | None = None,
    ) -> SimExecution:  # fmt: skip
        """Fill a working order now (all that remains by default, at the last price by default), clients connected or not."""
        order = self.broker.find(order_ref=order_ref, order_id=order_id)
        if order.is_done:
            raise ValueError(f"order {order.order_id} ({order.order_ref!r}) is {order.status}; it cannot fill")
        fill_price = price if price is not None else self.market.last_price(order.symbol)
        if fill_price is None:
            raise ValueError(f"{order.symbol} has no price at or before the current bar; pass price=")
        return sim_orders.execute(self, order, quantity or order.remaining, fill_price)

    def cancel(self, *, order_ref: str | None = None, order_id: int | None = None, reason: str = "") -> SimOrder:
        """Cancel a working order from the gateway's side (as IB does at the end of a DAY order's session)."""
        order = self.broker.find(order_ref=order_ref, order_id=order_id)
        sim_orders.cancel(self, order, reason)
        return order

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 2.0, poll: float = 0.005) -> bool:
        """Wait until ``predicate()`` holds (True) or ``timeout`` s pass (False)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(poll)
        return True

    # -- helpers the request and order modules use --------------------------------------------
    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run a coroutine as a task the simulator cancels on stop."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def account_changed(self, symbol: str) -> None:
        """Queue an account update (values and ``symbol``'s portfolio line) to subscribers.

        Updates are batched over ``ACCOUNT_PUSH_DELAY`` s (TWS itself batches them over minutes).
        """
        if not self._changed:
            asyncio.get_running_loop().call_later(ACCOUNT_PUSH_DELAY, self._push_account_changes)
        self._changed.add(symbol)

    def owners(self, order: SimOrder) -> list[Session]:
        """Started sessions of the client that placed ``order``."""
        return [s for s in self.sessions if s.client_id == order.client_id]

    def symbol_for(self, symbol: str, con_id: int) -> str | None:
        """The known symbol a request names, by conId first, then by symbol."""
        if con_id and con_id in self._by_con_id:
            return self._by_con_id[con_id]
        return symbol if self.market.knows(symbol) else None

    def time_text(self, t: datetime) -> str:
        """An execution time as TWS writes it: ``yyyymmdd hh:mm:ss Zone`` in the configured zone."""
        return f"{t.astimezone(self.zone):%Y%m%d %H:%M:%S} {self.zone.key}"

    # -- internals ---------------------------------------------------------------------
    def _load_state(self, path: Path, resume_clock: bool) -> None:
        stored = account_state.load(path, symbols=self.market.symbols)
        if stored is not None:
            self.state_loaded = True
            self.broker = account_state.restore(stored, account=self.broker.account)
            if resume_clock and stored.now is not None:
                if not self.market.seek(stored.now):
                    raise account_state.GatewayStateError(
                        f"--state {path}: its clock {stored.now:%Y-%m-%d} is not a bar of the data served now; "
                        "start with the data it was written with, or pass --start to set the clock"
                    )
                self.resumed_from = stored.now
        self._keeper = account_state.StateKeeper(
            path, source=lambda: (self.broker, self.market.timestamp()), on_error=self._fail
        )
        self.broker.on_change = self._keeper.changed

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("ib-gateway: listening on %s:%d (server version %d)", self.host, self.port, self.server_version)

    async def _close_listener(self, timeout: float) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), timeout)
            self._server = None

    def _drop_all(self) -> None:
        for s in list(self._sessions.values()):
            s.close()
        self._sessions.clear()

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._fail(f"background task failed: {task.exception()!r}")

    def _push_account_changes(self) -> None:
        symbols, self._changed = sorted(self._changed), set()
        for s in self.sessions:
            if s.account_subscribed:
                sim_requests.push_account(self, s, symbols)

    def _fail(self, text: str) -> None:
        self.errors.append(text)
        log.error("ib-gateway: %s", text)

    async def _stream(self, interval: float) -> None:
        while await asyncio.sleep(interval, True) and await self.step():
            pass
        log.info("ib-gateway: the replay reached the last bar")

    def _publish_bar(self) -> None:
        if self.script.bars_stopped:
            return
        epoch = int(self.market.timestamp().timestamp())
        date = self.market.timestamp().strftime("%Y%m%d")
        for s in self.sessions:
            for req_id, symbol in s.real_time_bars.items():
                if (bar := self.market.bar(symbol)) is not None:
                    s.send(msg.realtime_bar(req_id, epoch, *bar))
            for req_id, symbol in s.live_history.items():
                if (bar := self.market.bar(symbol)) is not None:
                    o, h, lo, c, v = bar
                    s.send([OutMsg.HISTORICAL_DATA_UPDATE, req_id, 1, date, o, c, h, lo, c, v])
            for req_id, symbol in s.market_data.items():
                if (bar := self.market.bar(symbol)) is not None:
                    s.send([1, 6, req_id, 4, bar[3], 0, 0])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._session_tasks.add(task)
        number = next(self._numbers)
        session: Session | None = None
        try:
            low, high = await read_handshake(reader, self.handshake_timeout)
            if not low <= self.server_version <= high:
                log.warning(
                    "ib-gateway: client %d asked for versions %d..%d; this gateway speaks %d: closing",
                    number, low, high, self.server_version,
                )  # fmt: skip
                return
            session = Session(number, writer, self.server_version, self._write_limit)
            self._sessions[number] = session
            if self.recorder is not None:
                session.on_send = self.recorder.sent
                self.recorder.event("open", session=number, client_versions=f"{low}..{high}")
            writer.write(encode_handshake_reply(self.server_version, datetime.now(UTC).strftime("%Y%m%d %H:%M:%S UTC")))
            while not writer.is_closing():
                self._handle(session, decode(await read_frame(reader, self.idle_timeout)))
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError, WireError) as exc:
            log.debug("ib-gateway: session %d ended: %r", number, exc)
        finally:
            self._sessions.pop(number, None)
            writer.transport.abort()
            if session is not None and self.recorder is not None:
                self.recorder.event("close", session=number, client_id=session.client_id)
            if task is not None:
                self._session_tasks.discard(task)

    def _handle(self, s: Session, fields: list[str]) -> None:
        decoded = msg.decode_request(fields)
        self.record.add(s.number, s.client_id, fields, decoded)
        if self.recorder is not None:
            self.recorder.received(s.number, s.client_id, fields, decoded)
        if self.max_message_rate is not None and s.over_rate(self.max_message_rate):
            text = f"Max rate of messages per second has been exceeded:max={self.max_message_rate}"
            s.send(msg.error(-1, 100, text, s.version))
            self._sessions.pop(s.number, None)
            s.writer.close()
            return
        if not fields or not fields[0].isdigit():
            self._fail(f"session {s.number}: a message without a numeric id: {fields[:3]}")
            return
        msg_id = int(fields[0])
        try:
            if msg_id == InMsg.START_API:
                self._start_api(s, decoded)
            elif s.client_id is None:
                self._fail(f"session {s.number}: message {msg_id} before startApi")
            elif msg_id in sim_orders.HANDLERS:
                sim_orders.HANDLERS[msg_id](self, s, decoded)
            elif msg_id in sim_requests.HANDLERS:
                sim_requests.HANDLERS[msg_id](self, s, decoded)
            else:
                log.info("ib-gateway: session %d: message %d is recorded but not answered", s.number, msg_id)
        except Exception as exc:
            self._fail(f"session {s.number}: handling message {msg_id} {decoded} failed: {exc!r}")
            log.exception("ib-gateway: handler failure")

    def _start_api(self, s: Session, d: dict[str, str]) -> None:
        client_id = int(d.get("client_id") or 0)
        if client_id in self.client_ids:
            s.send(
                msg.error(
                    -1, 326, "Unable to connect as the client id is already in use. Retry with a unique client id.",
                    s.version,
                )
            )  # fmt: skip
            self._sessions.pop(s.number, None)
            s.writer.close()  # graceful: the error is flushed before the socket closes
            return
        s.client_id = client_id
        s.send([OutMsg.NEXT_VALID_ID, 1, self.broker.next_valid_id])
        s.send([OutMsg.MANAGED_ACCOUNTS, 1, self.broker.account])
        for code, text in FARM_NOTICES:
            s.send(msg.error(-1, code, text, s.version))
