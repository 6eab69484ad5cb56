"""The live driver: the session stepped from a feed instead of a panel loop, with every step made durable.

Per bar: append it to the history -> let the broker see it -> apply requests from other
processes (halt, resume, flatten, kept in the store) -> step the session (fills, marks, the
decision when the rebalance rule fires, stops) -> record the bar. A decision is recorded
before its orders are sent; a restart that finds it resumes it instead of deciding again.
A feed that stays silent past ``stale_after_s`` halts trading with an alert until bars return.
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
from qt.enums import TradingState
from qt.live.feeds import Feed, ReplayFeed
from qt.live.history import BarRow, History, utc_time
from qt.live.router import RoutedVenue
from qt.live.settings import LiveSettings
from qt.live.store import EventKind, LiveStore
from qt.live.store.faults import fault_point
from qt.rebalancing import drift_rule
from qt.strategies.base import Strategy
from qt.types import FillBatch, OrderBatch

log = logging.getLogger("qt")
STALE = "stale data"
CONTROL_EVERY_S = 0.2  # how often requests from other processes are read between decision bars


@dataclass
class LiveDriver:
    """Runs one live session until the feed ends or SIGTERM/SIGINT asks it to stop."""

    history: History
    feed: Feed
    session: Session
    router: RoutedVenue
    store: LiveStore
    strategy: Strategy
    settings: LiveSettings
    on_bar: Callable[[BarRow], None] | None = None  # the paper broker watches the market
    notify: Callable[[str], None] = lambda message: None
    bars_done: int = 0
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _seen_requests: int = 0
    _checked_at: float = float("-inf")
    _replay_schedule: tuple[np.ndarray, np.ndarray] | None = None  # (scheduled, forced) over a replay's bar times
    recovered: list[FillBatch] = field(default_factory=list)  # fills booked at recovery: recorded with the next bar

    def __post_init__(self) -> None:
        self.session.on_decision = self._record_decision
        # a request is done once a later health event says it was handled: one made while no process ran applies now
        handled = [int(e.payload.get("handled", 0)) for e in self.store.events(kinds=[EventKind.HEALTH])]
        self._seen_requests = max(handled, default=0)

    async def run(self) -> int:
        """Drive bars until the feed ends or a stop signal; the number of bars processed."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self._stop.set)
        reason = self.store.trading_state().reason
        if self.session.state.trading is TradingState.HALTED and not self._stop_halt(reason):
            self.router.cancel_open(self.history.n - 1, "halted: " + reason)  # halted while no process ran
            self.router.sync(self.history.n - 1)
        queue: asyncio.Queue[BarRow | None] = asyncio.Queue(maxsize=1)
        producer = asyncio.create_task(self._produce(queue))
        try:
            while not self._stop.is_set():
                bar = await self._next(queue)
                if bar is None:
                    break
                self.step(bar)
                await asyncio.sleep(0)
        finally:
            producer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await producer
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(sig)
        if self._stop.is_set() and self.settings.cancel_on_exit:
            self.router.cancel_open(self.history.n - 1, "cancelled on shutdown")
            self.router.poll(self.history.n - 1)
        return self.bars_done

    def _stop_halt(self, reason: str) -> bool:
        """Whether the halt is a post-trade stop's own: its flatten or de-risk orders stay working, as in a backtest."""
        events = (a.payload.get("risk_event") for a in self.store.alerts())
        return any(f"{e['kind']}: {e['detail']}" == reason for e in events if e)

    async def _produce(self, queue: asyncio.Queue[BarRow | None]) -> None:
        async for bar in self.feed.bars():
            await queue.put(bar)
        await queue.put(None)

    async def _next(self, queue: asyncio.Queue[BarRow | None]) -> BarRow | None:
        """The next bar; while waiting, apply other processes' requests and halt once the feed is silent too long."""
        if not queue.empty() and not self._stop.is_set():
            return queue.get_nowait()  # the feed is ahead (a replay at max speed): nothing to wait for
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
                self._between_bars()
                if limit is not None and time.monotonic() - waiting_since > limit:
                    self._stale()
        finally:
            stopper.cancel()
            if not getter.done():
                getter.cancel()

    # -- one bar --------------------------------------------------------------------
    def step(self, bar: BarRow) -> StepResult:
        """Process one bar and record it."""
        t = self.history.append(bar)
        panel = self.history.panel()
        now = utc_time(bar.timestamp)
        self.router.guard.bar_arrived()
        self.router.new_bar(now, panel.close[t])
        if self.on_bar is not None:
            self.on_bar(bar)
        state = self.session.state
        scheduled, forced = self._schedule(panel.timestamps, t)
        clock = time.monotonic()
        if scheduled or clock - self._checked_at >= CONTROL_EVERY_S:  # other processes' halt/resume/flatten
            self._checked_at = clock
            self._apply_requests(t)
        before = state.trading
        decided = self._recorded_decision(t, now) if self.bars_done == 0 else None
        deciding = decided is None and scheduled and state.trading is TradingState.ACTIVE
        scores = self._scores(panel, t) if deciding else np.full(panel.n_assets, np.nan)
        step = self.session.step(t, panel, scores, scheduled=scheduled, forced=forced, decided=decided)
        self._after(step, before, now)
        self.bars_done += 1
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

    def _after(self, step: StepResult, before: TradingState, now: Any) -> None:
        with self.store.batch():  # one transaction per bar
            self._record(step, now)
        for cid in self.router.check_acks(time.monotonic()):
            self.notify(f"order {cid} lost: no acknowledgement from the broker")
        fault_point("driver.after_bar")
        if before is not self.session.state.trading:
            log.info("trading state %s -> %s", before.value, self.session.state.trading.value)

    def _record(self, step: StepResult, now: Any) -> None:
        state = self.session.state
        for event in step.events:
            self.store.record_alert(f"{event.kind}: {event.detail}", time=now,
                                    details={"risk_event": _event_payload(event)})  # fmt: skip
            halts = event.halt or (event.kind == "daily_loss" and self.settings.halt_on_daily_loss)
            if halts:  # the session already cancelled waiting orders before its stop orders: keep those
                state.trading = TradingState.HALTED
                self._halt(f"{event.kind}: {event.detail}", now, cancel=False)
            elif event.kind == "resume":
                self.store.set_trading_state(TradingState.ACTIVE, event.detail, time=now)
        self._count_rejects(now)
        self.router.trading = state.trading
        recovered, self.recovered = self.recovered, []  # already in the book (restored from the store): recorded only
        traded = step.traded + sum(float(np.abs(b.orders.quantities) @ b.prices) for b in recovered)
        self.store.record_bar(
            {"t": step.t, "nav": step.nav, "cash": step.cash, "gross": step.gross, "net": step.net,
             "traded": traded, "fills": [_batch_payload(b) for b in [*recovered, *step.fills]],
             "peak": state.peak, "resume_at": state.resume_at},  # the stops' memory, restored after a restart
            time=now,
        )  # fmt: skip
        self.store.record_equity(step.nav, step.cash, time=now)

    def _halt(self, reason: str, now: Any, *, cancel: bool = True) -> None:
        self.store.set_trading_state(TradingState.HALTED, reason, time=now)
        self.router.trading = TradingState.HALTED
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
        if len(recent) >= self.settings.max_rejects and self.session.state.trading is not TradingState.HALTED:
            self.session.state.trading = TradingState.HALTED
            n, m = len(recent), self.settings.reject_window_minutes
            self._halt(f"{n} broker rejects in {m:g} minutes (max_rejects {self.settings.max_rejects})", now)

    # -- requests from other processes and the feed ------------------------------------------
    def _between_bars(self) -> None:
        """Requests read while no bar comes: a halt reaches the broker as cancels now, not at the next bar."""
        t = self.history.n - 1
        if t >= 0 and self._apply_requests(t, fresh=False):
            self.router.sync(t)  # the store shows the cancels and fills now; the session books them at the next bar

    def _apply_requests(self, t: int, *, fresh: bool = True) -> bool:
        """Trading state set by ``qt live halt/resume`` and ``flatten`` requests, read from the store.

        ``fresh``: a bar just arrived (a stale-data halt ends). True when anything changed or was routed.
        """
        stored = self.store.trading_state()
        state = self.session.state
        acted = False
        if fresh and stored.state is TradingState.HALTED and stored.reason.startswith(STALE):
            self.store.set_trading_state(TradingState.ACTIVE, "fresh data: bars arrive again")
            self.store.record_alert("fresh data: bars arrive again; trading resumes")
            stored = self.store.trading_state()
        if stored.state is not state.trading:
            if stored.state is TradingState.HALTED:
                self.router.cancel_open(t, "halted: " + stored.reason)
            state.trading = stored.state
            acted = True
            log.warning("trading state %s (%s)", stored.state.value, stored.reason)
        self.router.trading = state.trading
        for request in self.store.events(since_seq=self._seen_requests, kinds=[EventKind.HEALTH]):
            self._seen_requests = request.seq
            if request.payload.get("request") == "flatten":
                self._flatten(t)
                self.store.record_event(EventKind.HEALTH, {"status": "flatten routed", "handled": request.seq})
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
        reason = self.router.guard.stale() or f"{STALE}: no bar within {self.settings.guard.stale_after_s} s"
        if self.store.trading_state().reason == reason or self.session.state.trading is TradingState.HALTED:
            return
        self.session.state.trading = TradingState.HALTED
        self.store.record_event(EventKind.HEALTH, {"status": "stale", "reason": reason})
        self.store.record_alert(f"{reason}: no new decision until bars arrive again", severity="critical")
        self._halt(reason, None)

    # -- durable decisions ------------------------------------------------------------------
    def _record_decision(self, out: DecisionOutcome) -> None:
        d = out.decision
        payload = {
            "t": d.t, "before": d.before.tolist(), "target": d.target.tolist(),
            "risk": {k: (float(v) if np.isfinite(v) else None) for k, v in d.risk.items()},  # NaN before history
            "report": None if d.report is None else {"status": d.report.status, "solver": d.report.solver,
                                                     "steps": list(d.report.steps)},
            "orders": {"assets": out.orders.assets.tolist(), "quantities": out.orders.quantities.tolist(),
                       "notes": [str(n) for n in out.notes]},
            "refused": None if out.refused is None else _batch_payload(out.refused),
        }  # fmt: skip
        self.store.record_decision(payload, time=self.router.bar_time)

    def _recorded_decision(self, t: int, now: Any) -> DecisionOutcome | None:
        """The decision recorded at this bar before a restart, to be resumed rather than made again."""
        last = self.store.last_decision()
        if last is None or last.time != now:
            return None
        p = last.payload
        orders = OrderBatch(t, np.asarray(p["orders"]["assets"], dtype=np.intp), np.asarray(p["orders"]["quantities"]))
        decision = Decision(t, np.asarray(p["before"]), np.asarray(p["target"]), None, risk_from_payload(p))
        refused = batch_from_payload(p["refused"]) if p.get("refused") else None
        log.warning("resuming the decision of %s recorded before the restart", now)
        return DecisionOutcome(decision, orders, np.asarray(p["orders"]["notes"], dtype=object), refused)


def _batch_payload(b: FillBatch) -> dict[str, Any]:
    return {
        "decided_at": b.orders.decided_at, "filled_at": b.filled_at, "assets": b.orders.assets.tolist(),
        "quantities": b.orders.quantities.tolist(), "status": [str(s) for s in b.status],
        "prices": b.prices.tolist(), "fees": b.fees.tolist(), "reasons": [str(r) for r in b.reasons],
    }  # fmt: skip


def batch_from_payload(p: dict[str, Any]) -> FillBatch:
    """A FillBatch recorded in a bar or decision event."""
    orders = OrderBatch(int(p["decided_at"]), np.asarray(p["assets"], dtype=np.intp), np.asarray(p["quantities"]))
    return FillBatch(orders, int(p["filled_at"]), np.asarray(p["status"]), np.asarray(p["prices"]),
                     np.asarray(p["fees"]), np.asarray(p["reasons"], dtype=object))  # fmt: skip


def _event_payload(e: Any) -> dict[str, Any]:
    return {"t": e.t, "kind": e.kind, "detail": e.detail, "scale": e.scale, "halt": e.halt}


def risk_from_payload(p: dict[str, Any]) -> dict[str, float]:
    """A recorded decision's risk figures (None, stored for NaN, back to NaN)."""
    return {k: float("nan") if v is None else float(v) for k, v in (p.get("risk") or {}).items()}
