"""The live node: one start sequence for every broker, from a locked state folder to a closed connection.

lock the folder -> open the store -> check the folder belongs to this run (data, symbols, strategy,
run name) -> connect (fail closed) -> refuse a missing or empty store while the broker holds positions
-> reconcile -> restore the book -> warm up -> re-attach working orders and recovered fills -> drive
-> flush -> close. The broker is whatever ``BrokerAdapter`` the config built (``conf/broker/*.yaml``,
``_target_``); nothing here names one. A refusal happens before anything is written to the folder,
so a refused run never touches a live folder's store or result files.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from qt.data.panel import BarPanel
from qt.engine.components import Components
from qt.engine.ledger import Ledger
from qt.engine.session import Session
from qt.enums import OrderStatus
from qt.errors import ConfigError
from qt.live.adapter import BrokerAdapter, BrokerLink, NodeContext
from qt.live.broker import Broker
from qt.live.driver import DecisionLog, LiveDriver
from qt.live.guard import BarClock, RiskGuard
from qt.live.history import History
from qt.live.identity import FolderIdentity
from qt.live.recovery import hold_back, reconcile, resend_queued, unexplained_positions
from qt.live.router import RoutedVenue, RouterSettings
from qt.live.settings import LiveSettings
from qt.live.store import EventKind, FillRecord, LiveStore, StoreSettings, open_from_settings
from qt.live.store.settings import KINDS, POINTER, SQLITE_FILE
from qt.live.trading import ControlledState, TradingControl
from qt.rebalancing import drift_rule
from qt.types import FillBatch, OrderBatch

log = logging.getLogger("qt")
LOCK_FILE = "qt-live.lock"
R = TypeVar("R")


def _quiet(message: str) -> None:
    """No network reporter configured."""


@dataclass(frozen=True)
class NodeRun:
    """What one run of the node did: bars processed, loop seconds, the bars it knows, the first live bar."""

    bars: int
    engine_s: float
    panel: BarPanel  # every bar the run knows by index (the result files are cut from it)
    first: int  # the first bar this state folder traded live
    loop: dict[str, Any] = field(default_factory=dict)  # the driver's loop and decision timings


class LiveNode:
    """Runs one live session of ``parts`` through ``adapter`` in ``settings.folder``.

    ``notify`` sends critical alerts (halts, reconciliation breaks, lost orders, disconnects) to the
    configured reporters; ``config_text`` is written to ``STATE_DIR/config.yaml`` once the run is admitted;
    ``progress`` gets (bars done, bars expected) after each bar.
    """

    def __init__(
        self,
        *,
        adapter: BrokerAdapter,
        parts: Components,
        panel: BarPanel,
        settings: LiveSettings,
        identity: FolderIdentity,
        notify: Callable[[str], None] = _quiet,
        config_text: str | None = None,
        progress: Callable[[int, int | None], None] | None = None,
    ) -> None:
        self.adapter = adapter
        self.parts = parts
        self.panel = panel
        self.settings = settings
        self.identity = identity
        self.notify = notify
        self.config_text = config_text
        self.progress = progress
        self.folder = settings.folder
        self._driver: LiveDriver | None = None
        self._link: BrokerLink | None = None
        self._store: LiveStore | None = None
        self._admitted = False  # the run passed every check and may write to the folder

    # -- the sequence -------------------------------------------------------------------------
    def run(self, finish: Callable[[LiveStore, NodeRun], R]) -> R:
        """Run until the feed ends or SIGTERM/SIGINT; then ``finish`` (the result files) with the store still open."""
        new = [p for p in (self.folder, *self.folder.parents) if not p.exists()]  # what make_folder creates
        make_folder(self.folder)
        try:
            return self._run_held(finish)
        finally:
            if new and not self._admitted:  # refused before anything was recorded: no folder left behind
                (self.folder / LOCK_FILE).unlink(missing_ok=True)
                with contextlib.suppress(OSError):
                    for path in new:  # innermost first; stops at the first that is not empty
                        path.rmdir()

    def _run_held(self, finish: Callable[[LiveStore, NodeRun], R]) -> R:
        with hold_folder(self.folder):
            self.identity.check(self.folder)  # whose folder this is: before the store is even opened
            created = _Created.before(self.folder, self.settings)
            store = self._open_store()
            self._store = store
            try:
                outcome = asyncio.run(self._session(store))
                return finish(store, outcome)
            finally:
                store.close()
                if not self._admitted:
                    created.undo()  # refused before anything was recorded: leave the folder as it was

    async def _session(self, store: LiveStore) -> NodeRun:
        capital = self.parts.settings.capital
        ctx = NodeContext(
            panel=self.panel, execution=self.parts.execution, capital=capital, settings=self.settings,
            folder=self.folder, store=store, alert=self.alert, resync=self.resync,
        )  # fmt: skip
        link = self.adapter.open(ctx)
        self._link = link
        try:
            await link.connect()  # fail closed
            self._admit(store, link.broker)  # refusals happen before anything is written
            now = link.now()
            if not store.events(limit=1):
                store.deposit(capital, reason="initial capital", time=now)
            recon = reconcile(store, link.broker, adopt=self.settings.adopt_positions, now=now,
                              run_name=self.settings.name)  # fmt: skip
            control = TradingControl(store)
            if not recon.clean:
                self.alert("reconciliation: positions differ from the broker's: " + recon.report()
                           + "; trading HALTED", "critical")  # fmt: skip
            warm = await link.warm_up()
            history = warm.history
            seen = history.panel()
            driver = build_driver(
                self.parts, self.settings, store, link.broker, history, warm.feed, capital,
                market_clock=link.market_clock, control=control, on_bar=link.on_bar, notify=self.notify,
                recovered=recovered_fills(recon.booked, store, seen, history.n), progress=self.progress,
            )  # fmt: skip
            for cid, (decided, asset, note) in _origins(recon.reattached, store, seen).items():
                driver.router.reattach(cid, decided, asset, note)
            if getattr(link.broker, "fills_arrive_later", False):  # IB: a decision's fills come at the next bar ...
                driver.recovered, held = hold_back(driver.recovered, driver.session.state.ledger, history.n)
                driver.router.deliver_at(held)  # ... so those of the decision resumed at the restart bar come there too
            self._driver = driver
            link.start()
            resend_queued(store, driver.router, recon, bars_missed=warm.missed > 0)  # queued inside qt at the stop
            started = time.perf_counter()
            bars = await driver.run()
            engine_s = time.perf_counter() - started
            await link.flush()  # orders still queued inside qt go out; their news is booked
            driver.router.sync(history.n - 1)
            log.info("live: %d bars processed in %.3f s; state in %s", bars, engine_s, self.folder)
        finally:
            self._driver = None
            await link.close()
        first_bar = store.events(kinds=[EventKind.BAR], limit=1)
        panel = link.bars()
        first = int(first_bar[0].payload["t"]) if first_bar else panel.n_bars
        return NodeRun(bars, engine_s, panel, first, driver.timings.summary())

    def _admit(self, store: LiveStore, broker: Broker) -> None:
        """Refuse an empty store while the broker holds positions (unless adopting); else record the folder's owner."""
        if not store.events(limit=1) and not self.settings.adopt_positions:
            held = unexplained_positions(broker, store, self.settings.name)  # others' on a shared account: not ours
            if held:
                shown = ", ".join(f"{s} {q:g}" for s, q in sorted(held.items())[:8])
                more = f" and {len(held) - 8} more" if len(held) > 8 else ""
                raise ConfigError(
                    "live.state_dir",
                    f"the state store of {self.folder} ({store.meta().location}) is missing or empty, but the broker "
                    f"holds positions ({shown}{more}): starting would trade them as if flat and overwrite this "
                    "folder's results. Restore the store from a backup, or restart with live.adopt_positions=true "
                    "to adopt the broker's positions (booked as external)",
                )
        self._admitted = True
        self.identity.write(self.folder)
        if self.config_text is not None:
            _write_text(self.folder / "config.yaml", self.config_text)

    # -- what adapters call -------------------------------------------------------------------
    def alert(self, message: str, severity: str = "warning") -> None:
        """Record an alert in the store and the log; critical ones also go to the reporters (Slack, email)."""
        if self._store is not None:
            self._store.record_alert(message, severity=severity)
        (log.error if severity == "critical" else log.warning if severity == "warning" else log.info)("%s", message)
        if severity == "critical":
            self.notify(message)

    async def resync(self) -> None:
        """After a reconnect: book the broker's news (the session gets it at its next bar) and reconcile."""
        driver, link, store = self._driver, self._link, self._store
        if driver is None or link is None or store is None:
            return  # before the session is driven: connect's own synchronization covers it
        import datetime as dt

        driver.router.sync(driver.history.n - 1)
        result = reconcile(store, link.broker, adopt=False, now=dt.datetime.now(dt.UTC), run_name=self.settings.name)
        if not result.clean:
            self.alert("after reconnecting, positions differ from the broker's: " + result.report(), "critical")

    def _open_store(self) -> LiveStore:
        from pydantic import TypeAdapter, ValidationError

        raw = dict(self.settings.store)
        if raw.get("kind", "sqlite") != "sqlite":  # mode=live and broker=paper set SQLite's synchronous for everyone
            raw.pop("synchronous", None)
        try:
            store_settings: Any = TypeAdapter(StoreSettings).validate_python(raw)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = [str(p) for p in err["loc"]]
            loc = loc[1:] if loc and loc[0] in KINDS else loc  # the union's tag (sqlite, ...) is no key of the YAML
            raise ConfigError(".".join(["live.store", *loc]), str(err["msg"]).removeprefix("Value error, ")) from None
        return open_from_settings(store_settings, state_dir=self.folder, run_name=self.settings.name)


# -- building the session ---------------------------------------------------------------------
def build_driver(
    parts: Components,
    settings: LiveSettings,
    store: LiveStore,
    broker: Broker,
    history: History,
    feed: Any,
    capital: float,
    *,
    market_clock: bool = False,
    control: TradingControl | None = None,
    on_bar: Callable[[Any], None] | None = None,
    notify: Callable[[str], None] = _quiet,
    recovered: list[FillBatch] | None = None,
    progress: Callable[[int, int | None], None] | None = None,
) -> LiveDriver:
    """The session, router and guard over ``broker``, with the book restored from ``store``.

    ``market_clock``: the order-rate guard counts market time (a replay), not wall time; ``control``:
    the run's trading-state owner (one is made over ``store`` when not given).
    """
    symbols = history.symbols
    control = control or TradingControl(store)
    clock = BarClock() if market_clock else None
    guard = RiskGuard(settings.guard, rate_clock=clock)
    router = RoutedVenue(
        broker=broker, store=store, guard=guard, symbols=symbols, run_name=settings.name, control=control,
        settings=RouterSettings(ack_timeout_s=settings.ack_timeout_s, max_ack_misses=settings.max_ack_misses),
    )  # fmt: skip
    decisions = DecisionLog(store=store, router=router)
    rule = drift_rule(parts.strategy.rebalance)
    session = Session(
        pipeline=parts.pipeline(),
        venue=router,
        state=restore_state(store, symbols, capital, control),
        stops=parts.optional.get("risk.post_trade") or (),
        drift_threshold=rule.threshold if rule is not None else None,
        on_decision=decisions,
    )
    return LiveDriver(history=history, feed=feed, session=session, router=router, store=store,
                      strategy=parts.strategy, settings=settings, control=control, decisions=decisions,
                      on_bar=on_bar, notify=notify, clock=clock, recovered=list(recovered or []),
                      progress=progress)  # fmt: skip


def restore_state(
    store: LiveStore, symbols: tuple[str, ...], capital: float, control: TradingControl
) -> ControlledState:
    """The session's book as the store has it: positions, cash, NAV's peak and last value; trading from ``control``."""
    ledger = Ledger(cash=capital, n_assets=len(symbols))
    index = {s: i for i, s in enumerate(symbols)}
    for symbol, quantity in store.positions().items():
        if symbol in index:
            ledger.positions[index[symbol]] = quantity
    ledger.cash = store.cash() if store.events(limit=1) else capital
    peak = previous = float(capital)
    resume_at = None
    bars = store.events(kinds=[EventKind.BAR])
    if bars:
        navs = [float(e.payload["nav"]) for e in bars]
        peak, previous = max(capital, *navs), navs[-1]
        latest = bars[-1].payload  # NAV's peak (reset when a stop's halt ends) and the bar a halt ends at
        peak = float(latest.get("peak", peak))
        resume_at = None if latest.get("resume_at") is None else int(latest["resume_at"])
    last = store.last_decision()
    target = np.asarray(last.payload["target"]) if last is not None else None
    return ControlledState(control, ledger=ledger, peak=peak, previous=previous, resume_at=resume_at,
                           last_target=target)  # fmt: skip


def _origins(cids: list[str], store: LiveStore, panel: BarPanel) -> dict[str, tuple[int, int, str]]:
    """Each stored order's decision bar, asset index and note (why it was clipped, if it was)."""
    index = {s: i for i, s in enumerate(panel.symbols)}
    decisions = {e.time: e.payload["orders"] for e in store.events(kinds=[EventKind.DECISION])} if cids else {}
    out = {}
    for cid in cids:
        order = store.order(cid)
        if order is None or order.symbol not in index:
            continue
        decided = int(
            np.searchsorted(panel.timestamps, np.datetime64(order.intent.decided_at.replace(tzinfo=None), "us"))
        )
        orders = decisions.get(order.intent.decided_at, {"assets": [], "notes": []})
        a = index[order.symbol]
        out[cid] = (decided, a, str(dict(zip(orders["assets"], orders["notes"], strict=True)).get(a, "")))
    return out


def recovered_fills(fills: list[FillRecord], store: LiveStore, panel: BarPanel, t: int) -> list[FillBatch]:
    """Fills booked at recovery (made while qt was down) as fill rows of bar t, one batch per decision bar."""
    origins = _origins([f.client_order_id for f in fills if f.client_order_id], store, panel)
    rows: dict[int, list[tuple[int, FillRecord, str]]] = {}
    for fill in fills:
        if fill.client_order_id in origins:
            decided, a, note = origins[fill.client_order_id]
            rows.setdefault(decided, []).append((a, fill, note))
    batches = []
    for decided, r in rows.items():
        orders_ = OrderBatch(
            decided, np.array([a for a, _, _ in r], dtype=np.intp), np.array([f.quantity for _, f, _ in r])
        )
        batches.append(FillBatch(orders_, t, np.full(len(r), OrderStatus.FILLED.value), np.array([f.price for _, f, _ in r]),
                                 np.array([f.fees for _, f, _ in r]), np.array([n for _, _, n in r], dtype=object)))  # fmt: skip
    return batches


# -- the folder -------------------------------------------------------------------------------
def make_folder(folder: Path) -> None:
    """Create the state folder; a path that cannot be one (a file, under a file, unwritable) is a ConfigError."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ConfigError("live.state_dir", f"{folder} is a file, not a folder; choose a folder") from None
    except NotADirectoryError:
        parent = next((p for p in folder.parents if p.is_file()), folder.parent)
        raise ConfigError(
            "live.state_dir", f"{parent} is a file, so {folder} cannot be a folder; choose a folder"
        ) from None
    except OSError as exc:
        raise ConfigError(
            "live.state_dir", f"cannot create {folder} ({exc.strerror}); choose a writable folder"
        ) from None


@contextlib.contextmanager
def hold_folder(folder: Path) -> Iterator[None]:
    """Hold ``folder``'s lock for the run: two live processes on one state folder would both trade it."""
    path = folder / LOCK_FILE
    try:
        handle = path.open("a+")
    except OSError as exc:
        raise ConfigError(
            "live.state_dir", f"cannot write in {folder} ({exc.strerror}); choose a writable folder"
        ) from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            pid = handle.read().strip() or "?"
            raise ConfigError(
                "live.state_dir",
                f"another qt process (pid {pid}) is running live on {folder}; stop it first, or choose another "
                "live.state_dir",
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass(frozen=True)
class _Created:
    """Files a refused run must not leave behind: the SQLite store and pointer it created (if it did)."""

    paths: tuple[Path, ...]

    @classmethod
    def before(cls, folder: Path, settings: LiveSettings) -> _Created:
        """What does not exist yet (and so would be created by opening the store)."""
        candidates = [folder / POINTER]
        if settings.store.get("kind", "sqlite") == "sqlite":
            db = Path(settings.store["path"]) if settings.store.get("path") else folder / SQLITE_FILE
            candidates += [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]
        return cls(tuple(p for p in candidates if not p.exists()))

    def undo(self) -> None:
        """Remove them again (the run was refused before anything was recorded)."""
        for path in self.paths:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)
