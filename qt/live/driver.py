"""The live driver: the session stepped from a feed instead of a panel loop, with every step made durable.

Per bar: append it to the history -> let the broker see it -> apply requests from other
processes (halt, resume, flatten, kept in the store) -> step the session (fills, marks, the
decision when the rebalance rule fires, stops) -> record the bar. A decision is recorded
before its orders are sent; a restart that finds it resumes it instead of deciding again.
A feed that stays silent past ``stale_after_s`` halts trading with an alert until bars return.
The trading state is read from and changed through one :class:`~qt.live.trading.TradingControl`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qt.engine.pipeline import Decision, DecisionOutcome
from qt.engine.session import Session, StepResult
from qt.enums import HaltCause, TradingState
from qt.live.catchup import CatchUp
from qt.live.feeds import Feed, ReplayFeed, expected_bars
from qt.live.guard import BarClock
from qt.live.history import BarRow, History, utc_time
from qt.live.journal import (
    BarRecorded,
    DecisionRecorded,
    FeedStale,
    OperatorRequest,
    RecordedFills,
    Request,
    RequestHandled,
)
from qt.live.router import RoutedVenue
from qt.live.settings import LiveSettings
from qt.live.store import LiveStore
from qt.live.store.faults import fault_point
from qt.live.timings import LoopTimings
from qt.live.trading import TradingControl, stop_cause
from qt.rebalancing import drift_rule
from qt.strategies.base import Strategy
from qt.types import FillBatch, OrderBatch

log = logging.getLogger("qt")
CONTROL_EVERY_S = 0.2  # how often requests from other processes are read between decision bars
GROUP_S = 0.2  # a replay ahead of the driver commits its bar records at least this often (store.hold/sync)
GROUP_GAP_S = 0.02  # then commits bar by bar this long, so other writers (qt live halt) get the lock


class DecisionLog:
    """Each decision recorded durably before its orders are sent, and read back to resume it after a restart."""

    def __init__(self, *, store: LiveStore, router: RoutedVenue) -> None:
        self.store = store
        self.router = router  # the decision's time is the bar the router is on

    def __call__(self, out: DecisionOutcome) -> None:
        """Record ``out`` (the session calls this between deciding and submitting)."""
        self.store.record_decision(DecisionRecorded.from_outcome(out), time=self.router.bar_time)

    def resumed(self, t: int, now: Any) -> DecisionOutcome | None:
        """The decision recorded at this bar before a restart, to be resumed rather than made again."""
        last = self.store.last_decision()
        if last is None or last.time != now:
            return None
        rec: DecisionRecorded = last.record
        decision = Decision(t, np.asarray(rec.before), np.asarray(rec.target), None, rec.risk_figures())
        refused = rec.refused.to_batch() if rec.refused is not None else None
        log.warning("resuming the decision of %s recorded before the restart", now)
        return DecisionOutcome(decision, rec.order_batch(t), np.asarray(rec.orders.notes, dtype=object), refused)


def _quiet(message: str) -> None:
    """No reporter: alerts stay in the store and the log."""


@dataclass
class LiveDriver:
    """Runs one live session until the feed ends or SIGTERM/SIGINT asks it to stop.

    ``session`` was built with ``decisions`` as its decision hook and a state whose trading state
    is ``control``'s; ``on_bar`` lets the broker see each bar first; ``clock`` (replays) moves the
    order-rate guard's market clock; ``recovered``: fills booked at recovery, recorded with the first bar.
    """

    history: History
    feed: Feed
    session: Session
    router: RoutedVenue
    store: LiveStore
    strategy: Strategy
    settings: LiveSettings
    control: TradingControl
    decisions: DecisionLog
    on_bar: Callable[[BarRow], None] | None = None
    notify: Callable[[str], None] = _quiet
    clock: BarClock | None = None
    bars_done: int = 0
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _seen_requests: int = 0
    _checked_at: float = float("-inf")
    _replay_schedule: tuple[np.ndarray, np.ndarray] | None = None  # (scheduled, forced) over a replay's bar times
    recovered: list[FillBatch] = field(default_factory=list)  # fills booked at recovery: recorded with the next bar
    catch_up: CatchUp = field(default_factory=CatchUp)  # no decision at bars missed while down; one late (catchup)
    progress: Callable[[int, int | None], None] | None = None  # (bars done, bars expected or None), after each bar
    timings: LoopTimings = field(default_factory=LoopTimings)  # wall time per bar and per decision bar
    _deferred: tuple[StepResult, TradingState, Any] | None = None  # a bar whose record is written off the loop
    _failure: BaseException | None = None  # the feed's task failed: the run stops and raises it
    _ahead: bool = False  # the last bar was waiting in the queue (the feed is ahead of the driver)
    _held_at: float = 0.0  # when the store began holding the current group of bar records
    _free_until: float = float("-inf")  # no group before this (other writers get the lock meanwhile)
    _syncs: int = 0  # the store's sync count when the last bar was recorded

    def __post_init__(self) -> None:
        # a request is done once a later health event says it was handled: one made while no process ran applies now
        handled = [e.record.request_seq for e in self.store.events(kinds=[RequestHandled])]
        self._seen_requests = max(handled, default=0)

    async def run(self) -> int:
        """Drive bars until the feed ends or a stop signal; the number of bars processed."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self._stop.set)
        control = self.control
        if control.state is TradingState.HALTED and not control.keeps_stop_orders:  # halted while no process ran
            self.router.cancel_open(self.history.n - 1, "halted: " + control.reason)
            self.router.sync(self.history.n - 1)
        queue: asyncio.Queue[BarRow | None] = asyncio.Queue(maxsize=1)
        producer = asyncio.create_task(self._produce(queue))
        producer.add_done_callback(self._feed_done)  # a failing feed surfaces at once, never silently
        offload = _networked(self.store)
        # A replay (a replayable feed, a broker on market time) steps the same bars the same way after a
        # restart: its writes may be committed in groups. A real-time feed or broker never holds.
        group = bool(getattr(self.feed, "replayable", False)) and self.clock is not None
        try:
            while not self._stop.is_set():
                bar = await self._next(queue)
                if bar is None:
                    break
                if group:
                    self._group_commit()
                self.step(bar, defer=offload)
                if self._deferred is not None:  # PostgreSQL/Redis: the bar's record is written off the event loop
                    step, before, now = self._deferred
                    self._deferred = None
                    await asyncio.to_thread(self._write_bar, step, now)
                    self._recorded(step, before)
                await asyncio.sleep(0)
        finally:
            self.store.release()
            producer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):  # a failure is raised below, once
                await producer
            if self._failure is None and not producer.cancelled() and producer.exception() is not None:
                self._failure = producer.exception()
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(sig)
        if self._failure is not None:
            raise self._failure
        if self._stop.is_set() and self.settings.cancel_on_exit:
            self.router.cancel_open(self.history.n - 1, "cancelled on shutdown")
            self.router.poll(self.history.n - 1)
        return self.bars_done

    def _feed_done(self, task: asyncio.Task[None]) -> None:
        """The feed's task ended: when it failed, stop the run now and say why (``run`` raises it)."""
        if task.cancelled() or task.exception() is None:
            return
        self._failure = task.exception()
        log.error("live feed failed: %r; stopping", self._failure)
        self.notify(f"qt live stopped: the feed failed: {self._failure!r}")
        self._stop.set()

    async def _produce(self, queue: asyncio.Queue[BarRow | None]) -> None:
        async for bar in self.feed.bars():
            await queue.put(bar)
        await queue.put(None)

    async def _next(self, queue: asyncio.Queue[BarRow | None]) -> BarRow | None:
        """The next bar; while waiting, apply other processes' requests and halt once the feed is silent too long."""
        self._ahead = not queue.empty() and not self._stop.is_set()
        if self._ahead:
            return queue.get_nowait()  # the feed is ahead (a replay at max speed): nothing to wait for
        self.store.release()  # nothing is held while the driver waits
        limit = self.settings.guard.stale_after_s
        waiting_since = time.monotonic()
        getter = asyncio.ensure_future(queue.get())
        stopper = asyncio.ensure_future(self._stop.wait())
        try:
            while True:
                done, _ = await asyncio.wait(
                    {getter, stopper}, timeout=CONTROL_EVERY_S, return_when=asyncio.FIRST_COMPLETED
                )
                if getter in done:
                    return getter.result()
                if self._stop.is_set():
                    return None
                if not _networked(self.store) or await asyncio.to_thread(self._requests_waiting):
                    self._between_bars()  # (PostgreSQL/Redis: only once the read off the loop found something)
                if limit is not None and time.monotonic() - waiting_since > limit:
                    self._stale()
        finally:
            stopper.cancel()
            if not getter.done():
                getter.cancel()

    def _group_commit(self) -> None:
        """While the replay is ahead, hold the store's writes and commit them every ``GROUP_S``, with gaps between.

        The router and the paper broker ``sync`` before anything reaches the broker, so a crash loses
        only what came after the broker's last action (as a kill there would) and bars without broker
        interaction, which the restart (from the last recorded bar) replays identically.
        """
        now = time.monotonic()
        if self.store.holding:
            if not self._ahead or now - self._held_at >= GROUP_S:
                self.store.release()
                self._free_until = now + GROUP_GAP_S
        elif self._ahead and now >= self._free_until:
            self.store.hold()
            self._held_at = now

    # -- one bar --------------------------------------------------------------------
    def step(self, bar: BarRow, *, defer: bool = False) -> StepResult:
        """Process one bar and record it (``defer``: leave an ordinary bar's record to ``run``, off the loop)."""
        began = time.perf_counter()
        t = self.history.append(bar)
        panel = self.history.panel()
        now = utc_time(bar.timestamp)
        if self.clock is not None:
            self.clock.advance(now)
        self.router.guard.bar_arrived()
        self.router.new_bar(now, panel.close[t])
        if self.on_bar is not None:
            self.on_bar(bar)
        state = self.session.state
        scheduled, forced = self._schedule(panel.timestamps, t)
        scheduled, forced, late = self.catch_up.schedule(bar, scheduled, forced)  # bars that passed while down
        if late is not None:
            self.store.record_alert(late, time=now)
            log.warning(late)
        clock = time.monotonic()
        if scheduled or clock - self._checked_at >= CONTROL_EVERY_S:  # other processes' halt/resume/flatten
            self._checked_at = clock
            self._apply_requests(t)
        before = state.trading
        decided = self.decisions.resumed(t, now) if self.bars_done == 0 else None
        deciding = decided is None and scheduled and state.trading is TradingState.ACTIVE
        scores = self._scores(panel, t) if deciding else np.full(panel.n_assets, np.nan)
        step = self.session.step(t, panel, scores, scheduled=scheduled, forced=forced, decided=decided)
        self._after(step, before, now, defer=defer)
        self.timings.add(time.perf_counter() - began, decided=step.decision is not None)
        self.bars_done += 1
        if self.progress is not None:
            self.progress(self.bars_done, expected_bars(self.feed))
        return step

    def _schedule(self, stamps: np.ndarray, t: int) -> tuple[bool, bool]:
        """Whether the rebalance rule fires at t, judged with the next bar's due time (not its prices)."""
        rule = self.strategy.rebalance
        if isinstance(self.feed, ReplayFeed):  # a replay knows every bar time: schedule them once, as a backtest does
            calendar = self.feed.panel.timestamps
            if t < len(calendar) and calendar[t] == stamps[t]:
                if self._replay_schedule is None:
                    drift = drift_rule(rule)
                    every = drift.forced(calendar) if drift is not None else np.ones(len(calendar), dtype=bool)
                    self._replay_schedule = (np.asarray(rule.schedule(calendar), dtype=bool), every)
                return bool(self._replay_schedule[0][t]), bool(self._replay_schedule[1][t])
        nxt = self.feed.next_due(stamps[t])
        times = stamps if nxt is None else np.r_[stamps, np.asarray([nxt], dtype=stamps.dtype)]
        drift = drift_rule(rule)
        forced = bool(drift.forced(times)[t]) if drift is not None else True
        return bool(rule.schedule(times)[t]), forced

    def _scores(self, panel: Any, t: int) -> np.ndarray:
        """The strategy's scores at t, computed on the history so far (causal by construction)."""
        return np.asarray(self.strategy.scores(panel)[t])

    def _after(self, step: StepResult, before: TradingState, now: Any, *, defer: bool = False) -> None:
        if defer and not step.events:  # nothing to act on: the record is plain writes, done off the loop by run
            self._count_rejects(now)
            self._deferred = (step, before, now)
            return
        self._write_bar(step, now)
        self._recorded(step, before)

    def _write_bar(self, step: StepResult, now: Any) -> None:
        with self.store.batch():  # one transaction per bar
            self._record(step, now)
        if self.store.syncs != self._syncs:  # the broker acted at this bar: its record is durable before the next
            self.store.sync()
            self._syncs = self.store.syncs

    def _recorded(self, step: StepResult, before: TradingState) -> None:
        for cid in self.router.check_acks(time.monotonic()):
            self.notify(f"order {cid} lost: no acknowledgement from the broker")
        fault_point("driver.after_bar")
        if before is not self.session.state.trading:
            log.info("trading state %s -> %s", before.value, self.session.state.trading.value)

    def _record(self, step: StepResult, now: Any) -> None:
        state = self.session.state
        for event in step.events:
            self.store.record_alert(f"{event.kind}: {event.detail}", risk_event=event, time=now)
            halts = event.halt or (event.kind == "daily_loss" and self.settings.halt_on_daily_loss)
            if halts:  # the session already cancelled waiting orders before its stop orders: keep those
                self._halt(stop_cause(event.kind), f"{event.kind}: {event.detail}", now, cancel=False)
            elif event.kind == "resume":  # a stop's halt ended after its resume_after bars
                self.control.resume(HaltCause.DRAWDOWN_STOP, event.detail, time=now)
        self._count_rejects(now)
        recovered, self.recovered = self.recovered, []  # already in the book (restored from the store): recorded only
        traded = step.traded + sum(float(np.abs(b.orders.quantities) @ b.prices) for b in recovered)
        fills = tuple(RecordedFills.from_batch(b) for b in [*recovered, *step.fills])
        bar = BarRecorded(step.t, step.nav, step.cash, step.gross, step.net, traded, fills, peak=state.peak,
                          resume_at=state.resume_at)  # the stops' memory, restored after a restart  # fmt: skip
        self.store.record_bar(bar, time=now)  # one event per bar: its NAV and cash are the run's equity series

    def _halt(self, cause: HaltCause, reason: str, now: Any, *, cancel: bool = True) -> None:
        self.control.halt(cause, reason, time=now)
        if cancel:
            self.router.cancel_open(self.history.n - 1, "halted: " + reason)
        log.warning("HALTED: %s", reason)
        self.notify(f"qt live halted: {reason}")

    def _count_rejects(self, now: Any) -> None:
        """K broker rejects within M minutes halt trading."""
        clock = time.monotonic()
        window = self.settings.reject_window_minutes * 60
        recent = [c for c in self.router.rejected_at if clock - c <= window]
        self.router.rejected_at[:] = recent
        if len(recent) >= self.settings.max_rejects and self.control.state is not TradingState.HALTED:
            n, m = len(recent), self.settings.reject_window_minutes
            reason = f"{n} broker rejects in {m:g} minutes (max_rejects {self.settings.max_rejects})"
            self._halt(HaltCause.BROKER_REJECTS, reason, now)

    # -- requests from other processes and the feed ------------------------------------------
    def _requests_waiting(self) -> bool:
        """Whether another process changed the trading state or asked for something (a read; safe off the loop)."""
        if self.store.trading_state().state is not self.control.state:
            return True
        return bool(self.store.events(since_seq=self._seen_requests, kinds=[OperatorRequest], limit=1))

    def _between_bars(self) -> None:
        """Requests read while no bar comes: a halt reaches the broker as cancels now, not at the next bar."""
        t = self.history.n - 1
        if t >= 0 and self._apply_requests(t, fresh=False):
            self.router.sync(t)  # the store shows the cancels and fills now; the session books them at the next bar

    def _apply_requests(self, t: int, *, fresh: bool = True) -> bool:
        """Trading state set by ``qt live halt/resume`` and ``flatten`` requests, read from the store.

        ``fresh``: a bar just arrived (a stale-data halt ends). True when anything changed or was routed.
        """
        control = self.control
        before = control.state
        control.refresh()  # qt live halt/resume/flatten from another process
        if fresh:
            control.fresh_data()
        acted = control.state is not before
        if acted:
            if control.state is TradingState.HALTED:
                self.router.cancel_open(t, "halted: " + control.reason)
            log.warning("trading state %s (%s: %s)", control.state.value, control.cause.value, control.reason)
        for request in self.store.events(since_seq=self._seen_requests, kinds=[OperatorRequest]):
            self._seen_requests = request.seq
            if request.record.request is Request.FLATTEN:
                self._flatten(t)
                self.store.record(RequestHandled(request.seq, "flatten routed"))
                acted = True
        return acted

    def _flatten(self, t: int) -> None:
        """Close every position through the risk guard (the session books the fills)."""
        positions = self.session.state.ledger.positions
        assets = np.flatnonzero(positions != 0)
        orders = OrderBatch(t, assets, -positions[assets])
        self.router.submit(orders, t, np.full(len(orders), "flatten requested", dtype=object))
        self.store.record_alert(f"flatten: {len(orders)} closing orders routed")

    def _stale(self) -> None:
        reason = self.router.guard.stale() or f"stale data: no bar within {self.settings.guard.stale_after_s} s"
        if self.control.state is TradingState.HALTED:
            return
        self.store.record(FeedStale(reason))
        self.store.record_alert(f"{reason}: no new decision until bars arrive again", severity="critical")
        self._halt(HaltCause.STALE_DATA, reason, None)


def batch_from_payload(p: dict[str, Any]) -> FillBatch:
    """A FillBatch recorded in a bar or decision event."""
    return RecordedFills.from_payload(p).to_batch()


def risk_from_payload(p: dict[str, Any]) -> dict[str, float]:
    """A recorded decision's risk figures (None, stored for NaN, back to NaN)."""
    return {k: float("nan") if v is None else float(v) for k, v in (p.get("risk") or {}).items()}


def _networked(store: LiveStore) -> bool:
    """A store on a server (PostgreSQL, Redis): its reads and writes would block the event loop (ib_async's too)."""
    return getattr(store, "kind", "sqlite") in ("postgres", "redis")
