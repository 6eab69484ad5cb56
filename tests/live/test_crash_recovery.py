"""Crash safety: a real `qt run mode=live broker=paper` process SIGKILLed at a chosen point, then restarted.

Each crash lands deterministically through ``QT_FAULT`` (qt.live.store.faults). The restart uses
the same state folder and no fault. Whatever the point, afterwards: every client order id was
placed at the broker exactly once, and exactly the ids an uninterrupted run placed; every
execution is booked once in qt's store; both stores pass their integrity check; qt's positions
equal the paper broker's and the uninterrupted run's. The crash points are found from the
uninterrupted run of the same config (the third decision that sends orders), not hard-coded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from paper_kit import SMALL, alerts, close_enough, ok, open_book, open_store, placements, run_live

from qt.enums import OrderStatus
from qt.live.store import EventKind, LiveStore

pytestmark = pytest.mark.slow
SIGKILL_EXIT = -9
CAPITAL = 1e6


@dataclass(frozen=True)
class Baseline:
    """An uninterrupted run: its state folder, its decisions (bar time, orders sent) and final books."""

    state: Path
    decisions: list[tuple[dt.datetime, int]]
    bar_index: dict[dt.datetime, int]
    positions: dict[str, float]
    cash: float
    placed: set[str]

    def burst(self, nth: int = 3) -> tuple[int, dt.datetime, int]:
        """(1-based index among all decisions, bar time, order count) of the nth decision that sends orders."""
        sending = [(i + 1, when, n) for i, (when, n) in enumerate(self.decisions) if n > 0]
        return sending[nth - 1]

    def orders_before(self, when: dt.datetime) -> int:
        """Orders placed by decisions before ``when``."""
        return sum(n for w, n in self.decisions if w < when)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Baseline]:
    """The uninterrupted run of SMALL for an execution timing (run once per timing)."""
    cache: dict[str, Baseline] = {}

    def get(execution: str) -> Baseline:
        if execution not in cache:
            state = tmp_path_factory.mktemp(f"baseline-{execution}") / "state"
            ok(run_live(state, *SMALL, f"execution={execution}"))
            store, book = open_store(state), open_book(state)
            try:
                decisions = [
                    (e.time, len(e.payload["orders"]["assets"])) for e in store.events(kinds=[EventKind.DECISION])
                ]
                bars = {e.time: int(e.payload["t"]) for e in store.events(kinds=[EventKind.BAR])}
                cache[execution] = Baseline(
                    state, decisions, bars, store.positions(), store.cash(), set(placements(book))
                )
                assert store.integrity_check() == [] and book.integrity_check() == []
                assert len(cache[execution].placed) == sum(n for _, n in decisions)  # the guard denied nothing
            finally:
                store.close()
                book.close()
        return cache[execution]

    return get


def crash_and_restart(state: Path, execution: str, fault: str) -> tuple[LiveStore, LiveStore]:
    """Kill a run at ``fault``, restart it on the same folder; (qt's store, the paper book), both open."""
    crashed = run_live(state, *SMALL, f"execution={execution}", fault=fault)
    assert crashed.returncode == SIGKILL_EXIT, (
        f"{fault} did not fire: exit {crashed.returncode}\n{crashed.stderr[-3000:]}"
    )
    ok(run_live(state, *SMALL, f"execution={execution}"))
    return open_store(state), open_book(state)


def assert_recovered(store: LiveStore, book: LiveStore, base: Baseline) -> None:
    """The properties every crash point must leave behind."""
    placed = placements(book)
    assert {c: n for c, n in placed.items() if n != 1} == {}, "a client order id was placed twice"
    assert set(placed) == base.placed, "the restarted run placed other orders than the uninterrupted one"
    mine = [f.exec_id for f in store.fills()]
    assert len(mine) == len(set(mine)), "an execution was booked twice"
    assert set(mine) == {f.exec_id for f in book.fills()}, "qt's fills differ from the broker's executions"
    assert store.integrity_check() == []
    assert book.integrity_check() == []
    assert close_enough(store.positions(), book.positions())
    assert close_enough(store.positions(), base.positions)
    assert abs(store.cash() - base.cash) <= 1e-9 * CAPITAL  # cash ends near 0: relative to the capital
    state = Path(store.meta().location).parent
    for name in ("orders", "fills", "decisions", "weights", "equity"):  # the result files, as if never killed
        pd.testing.assert_frame_equal(pd.read_parquet(state / f"{name}.parquet"),
                                      pd.read_parquet(base.state / f"{name}.parquet"), rtol=1e-9, obj=name)  # fmt: skip


def statuses(store: LiveStore, cid: str) -> list[str]:
    """The life cycle of one order as its updates were logged."""
    return [
        e.payload["status"] for e in store.events(kinds=[EventKind.ORDER_UPDATE]) if e.payload["client_order_id"] == cid
    ]


def decided_at(store: LiveStore, when: dt.datetime) -> list[str]:
    """Client order ids of the decision made at ``when``."""
    return sorted(o.client_order_id for o in store.orders() if o.intent.decided_at == when)


def test_kill_after_intents_stored_before_any_is_sent(tmp_path: Path, baseline: Callable[[str], Baseline]) -> None:
    """(a) Intents stored, nothing sent: on restart each is NOT_SENT (with an alert), then sent exactly once."""
    base = baseline("close")
    nth, when, n = base.burst()
    store, book = crash_and_restart(tmp_path / "state", "close", f"router.after_intent@{nth}")
    try:
        assert_recovered(store, book, base)
        cids = decided_at(store, when)
        assert len(cids) == n
        reconciled = [e.payload for e in store.events(kinds=[EventKind.RECONCILE])]
        assert sorted(reconciled[-1]["not_sent"]) == cids
        for cid in cids:
            assert statuses(store, cid)[:2] == ["not_sent", "submitted"]
            assert store.order(cid).status is OrderStatus.FILLED  # type: ignore[union-attr]
            assert any(cid in m and "never reached the broker" in m for m in alerts(store))
    finally:
        store.close()
        book.close()


def test_kill_after_submit_before_the_fill_is_booked(tmp_path: Path, baseline: Callable[[str], Baseline]) -> None:
    """(b) All sent, SUBMITTED not stored, fills pending at the next open: re-attached, filled and booked once."""
    base = baseline("next_open")
    nth, when, n = base.burst()
    store, book = crash_and_restart(tmp_path / "state", "next_open", f"router.after_submit@{nth}")
    try:
        assert_recovered(store, book, base)
        cids = decided_at(store, when)
        reconciled = [e.payload for e in store.events(kinds=[EventKind.RECONCILE])]
        assert sorted(reconciled[-1]["reattached"]) == cids and len(cids) == n
        assert reconciled[-1]["not_sent"] == []
        for cid in cids:
            assert len(store.fills(client_order_id=cid)) == 1
    finally:
        store.close()
        book.close()


def test_kill_after_submit_at_close_books_the_fills_made_while_down(
    tmp_path: Path, baseline: Callable[[str], Baseline]
) -> None:
    """(b) At ``close`` timing the broker filled the orders before the kill: recovery books those fills once."""
    base = baseline("close")
    nth, when, n = base.burst()
    store, book = crash_and_restart(tmp_path / "state", "close", f"router.after_submit@{nth}")
    try:
        assert_recovered(store, book, base)
        reconciled = [e.payload for e in store.events(kinds=[EventKind.RECONCILE])]
        assert reconciled[-1]["fills_booked"] == n
        assert all(store.order(c).status is OrderStatus.FILLED for c in decided_at(store, when))  # type: ignore[union-attr]
    finally:
        store.close()
        book.close()


@pytest.mark.parametrize("execution", ["close", "next_open"])
def test_kill_in_the_middle_of_a_burst(tmp_path: Path, baseline: Callable[[str], Baseline], execution: str) -> None:
    """(c) Killed after the paper broker took two orders of a burst, before its book committed the burst.

    The burst is one transaction of the book (``place_many``): the book never had any of it, so every
    order of the burst is NOT_SENT at the restart and then sent exactly once.
    """
    base = baseline(execution)
    _, when, n = base.burst()
    assert n >= 3, "the burst must have orders on both sides of the kill"
    k = base.orders_before(when) + 2
    store, book = crash_and_restart(tmp_path / "state", execution, f"broker.mid_burst@{k}")
    try:
        assert_recovered(store, book, base)
        cids = decided_at(store, when)
        reconciled = [e.payload for e in store.events(kinds=[EventKind.RECONCILE])][-1]
        assert sorted(reconciled["not_sent"]) == cids and len(cids) == n
        for cid in cids:
            assert statuses(store, cid)[:2] == ["not_sent", "submitted"]
            assert any(cid in m and "never reached the broker" in m for m in alerts(store))
    finally:
        store.close()
        book.close()


def test_kill_after_a_recorded_bar_with_orders_working(tmp_path: Path, baseline: Callable[[str], Baseline]) -> None:
    """A kill between bars, orders waiting for the next open: the restart continues at the next bar, nothing resent."""
    base = baseline("next_open")
    _, when, _ = base.burst()
    k = base.bar_index[when] + 1  # the decision bar is the k-th bar this process handles (the feed starts at 0)
    store, book = crash_and_restart(tmp_path / "state", "next_open", f"driver.after_bar@{k}")
    try:
        assert_recovered(store, book, base)
        bars = [int(e.payload["t"]) for e in store.events(kinds=[EventKind.BAR])]
        assert bars == sorted(set(bars)) == list(range(len(bars)))  # every bar recorded once, none skipped
        assert not any("never reached the broker" in m for m in alerts(store))
    finally:
        store.close()
        book.close()


# Next-open fills, bps costs, conservative limits and a drawdown stop that halts, flattens and resumes 5 bars later.
STOPS = (
    "strategy=xmom", "portfolio=equal", "data=synthetic", "data.n_assets=20", "data.n_days=800",
    "execution=next_open", "costs=bps", "risk=conservative", "risk.post_trade.0.max_drawdown=0.03",
    "risk.post_trade.0.resume_after=5", "risk.post_trade.1.max_loss=0.015", "live.halt_on_daily_loss=false",
)  # fmt: skip


@pytest.fixture(scope="module")
def stopped_baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The uninterrupted run of STOPS (its state folder)."""
    state = tmp_path_factory.mktemp("baseline-stops") / "state"
    ok(run_live(state, *STOPS))
    return state


@pytest.mark.parametrize("after", [0, 1], ids=["stop-bar-flatten-orders-working", "one-bar-into-the-halt"])
def test_kill_during_a_stops_halt_resumes_when_the_uninterrupted_run_does(
    tmp_path: Path, stopped_baseline: Path, after: int
) -> None:
    """The stop's flatten orders stay working across the restart, and the halt ends after resume_after bars."""
    base = stopped_baseline
    events = pd.read_parquet(base / "events.parquet")
    first_stop = events.loc[events["kind"] == "drawdown_stop", "timestamp"].min()
    equity = pd.read_parquet(base / "equity.parquet")
    k = int((equity["timestamp"] <= first_stop).sum()) + after  # bars handled by the killed process
    state = tmp_path / "state"
    crashed = run_live(state, *STOPS, fault=f"driver.after_bar@{k}")
    assert crashed.returncode == SIGKILL_EXIT, crashed.stderr[-3000:]
    ok(run_live(state, *STOPS))
    pd.testing.assert_frame_equal(pd.read_parquet(state / "events.parquet"), events)  # same stops, same resumes
    nav_a, nav_b = equity["nav"].to_numpy(), pd.read_parquet(state / "equity.parquet")["nav"].to_numpy()
    assert np.allclose(nav_b, nav_a, rtol=1e-9, atol=0)
    store, book = open_store(state), open_book(state)
    base_store = open_store(base)
    try:
        assert close_enough(store.positions(), base_store.positions())
        assert close_enough(store.positions(), book.positions())
        assert set(placements(book).values()) == {1}
        assert store.integrity_check() == [] and book.integrity_check() == []
        assert not [o for o in store.orders() if o.reason.startswith("halted")]  # nothing cancelled by the restart
    finally:
        store.close()
        book.close()
        base_store.close()
