"""The crash/restart contract, one suite for every broker adapter: paper, and IB through the gateway simulator.

A real ``qt run mode=live`` process is SIGKILLed at a chosen point (``QT_FAULT``, qt.live.store.faults)
and restarted on the same state folder. Whatever the point, the restarted run must end equal to the
uninterrupted run of the same config: the same placements per client order id (each exactly once:
the paper broker's book, or the simulator's record of every PLACE_ORDER), the same fills (order,
quantity, price, fees), positions, NAV and cash at every bar (never a NAV 0 row), no order left open
that the broker does not have, and the store's integrity check passes.

Kill points (found from the uninterrupted run, never hard-coded): after a decision's intents are
stored, in the middle of a burst, with orders still queued in qt's pacer (IB; the paper broker places
synchronously, so nothing is ever queued inside qt), between bars, down across a decision bar (IB: the
simulator moves to the decision bar while qt is down; a replay has no time passing while down), and
three kills in one run. The IB gateway runs in this test's process (its own thread) so the test moves
its clock bar by bar; every qt process is real.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from paper_kit import ok, open_book, open_store, placements

from qt.data.sources.synthetic import SyntheticData
from qt.enums import OrderStatus, TradingState
from qt.live.ibsim.wire import InMsg
from qt.live.namespace import in_namespace
from qt.live.store import EventKind

sys.path.insert(0, str(Path(__file__).parent / "ib"))
from ibharness import GatewayThread

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
SIGKILL_EXIT = -9
N_ASSETS, N_DAYS, SEED = 6, 120, 3
NOW = 80  # the simulator's "now" at start: bars before it are history; the paper replay trades from it
LIVE = 14  # live bars per run
CONFIG = (
    "strategy=xmom", "portfolio=equal", "data=synthetic", f"data.n_assets={N_ASSETS}", f"data.n_days={N_DAYS}",
    f"seed={SEED}", "strategy.params.lookback=10", "strategy.params.skip=0", "strategy.params.quantile=0.5",
    "strategy.params.frequency=weekly", "report.tearsheet=false",
)  # fmt: skip
IB_ONLY = ("broker.bar_settle_s=0.3", "broker.whole_shares=false", "broker.warmup=3 M", "broker.connect_timeout_s=20")
#: the pacer kill: one message at once, then 4 a second, so a decision's burst is still queued when its bar ends
#: (pacing changes when orders leave, never what fills: the gateway's clock waits for them)
SLOW_PACER = ("broker.burst_messages=1", "broker.max_messages_per_second=5")
OPEN = (OrderStatus.NEW, OrderStatus.SUBMITTED, OrderStatus.PARTIALLY_FILLED)


@pytest.fixture(scope="module")
def panel() -> Any:
    return SyntheticData(n_assets=N_ASSETS, n_days=N_DAYS, seed=SEED).load()


@dataclass
class Outcome:
    """What a finished run left behind, in the terms the contract compares."""

    placed: dict[str, int]
    fills: Counter[tuple[str, float, float, float]]
    positions: dict[str, float]
    equity: pd.DataFrame
    decisions: list[tuple[int, int]]  # (bar index, orders sent)
    open_orders: list[str]
    integrity: list[str]
    alerts: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Kill:
    """A crash point in terms of the uninterrupted run: ``what`` at its decision ``decision`` (0-based, sending)."""

    what: str  # after_intent | mid_burst | pacer | between_bars | down_across
    decision: int = 1


def outcome(state: Path, placed: dict[str, int]) -> Outcome:
    store = open_store(state)
    try:
        fills = Counter((f.client_order_id or "", round(f.quantity, 9), round(f.price, 9), round(f.fees, 9))
                        for f in store.fills())  # fmt: skip
        decisions = [(int(e.payload["t"]), len(e.payload["orders"]["assets"]))
                     for e in store.events(kinds=[EventKind.DECISION])]  # fmt: skip
        return Outcome(
            placed, fills, {s: q for s, q in store.positions().items() if abs(q) > 1e-12},
            pd.read_parquet(state / "equity.parquet"), decisions,
            [o.client_order_id for o in store.orders(status=OPEN)], store.integrity_check(),
            [str(a.payload["message"]) for a in store.alerts()],
        )  # fmt: skip
    finally:
        store.close()


def assert_same(got: Outcome, base: Outcome) -> None:
    """The contract: the restarted run ends as the uninterrupted run did."""
    assert {c: n for c, n in got.placed.items() if n != 1} == {}, "a client order id was placed twice"
    assert set(got.placed) == set(base.placed), "other orders were placed than in the uninterrupted run"
    assert got.fills == base.fills
    assert got.positions == pytest.approx(base.positions, rel=1e-12)
    assert got.decisions == base.decisions
    assert got.open_orders == [], "an order is left open"
    assert got.integrity == []
    nav = got.equity["nav"].to_numpy()
    assert (nav > 0).all(), "a bar was recorded with NAV 0"
    pd.testing.assert_series_equal(got.equity["timestamp"], base.equity["timestamp"])
    assert np.allclose(nav, base.equity["nav"].to_numpy(), rtol=1e-9, atol=0)
    assert np.allclose(got.equity["cash"].to_numpy(), base.equity["cash"].to_numpy(), rtol=1e-9, atol=1e-6)


def last_recorded(state: Path) -> int | None:
    if not (state / "state.sqlite").exists():
        return None
    store = open_store(state)
    try:
        last = store.last_bar()
        return None if last is None else int(last.payload["t"])
    finally:
        store.close()


def fault_for(kill: Kill, base: Outcome, first: int) -> tuple[str, int]:
    """(QT_FAULT, decision bar) for ``kill`` in a process whose first stepped bar is ``first``."""
    sending = [(t, n) for t, n in base.decisions if n > 0]
    t, n = sending[kill.decision]
    if kill.what == "after_intent":
        return f"router.after_intent@{sum(1 for d, _ in base.decisions if first <= d <= t)}", t
    if kill.what == "mid_burst":
        assert n >= 3, "the burst must have orders on both sides of the kill"
        return f"broker.mid_burst@{sum(k for d, k in base.decisions if first <= d < t) + 2}", t
    if kill.what == "pacer":
        return f"driver.after_bar@{t - first + 1}", t
    if kill.what == "between_bars":
        return f"driver.after_bar@{t + 1 - first + 1}", t
    if kill.what == "down_across":
        return f"driver.after_bar@{t - 1 - first + 1}", t
    raise ValueError(kill.what)


# -- the paper adapter -------------------------------------------------------------------------------------------
class PaperRig:
    """``broker=paper`` replaying the synthetic bars from NOW for LIVE bars."""

    name = "paper"

    def __init__(self, panel: Any, root: Path) -> None:
        self.args = (*CONFIG, "live.run_name=contract", f"live.start={str(panel.timestamps[NOW])[:10]}",
                     f"end={str(panel.timestamps[NOW + LIVE - 1])[:10]}")  # fmt: skip
        self.root = root
        self._base: Outcome | None = None

    def first_live(self) -> int:
        return NOW

    def process(self, state: Path, fault: str | None) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k != "QT_FAULT"}
        if fault:
            env["QT_FAULT"] = fault
        args = ["run", "mode=live", "broker=paper", *self.args, f"live.state_dir={state}",
                f"hydra.run.dir={state.parent / ('hydra-' + uuid.uuid4().hex[:8])}"]  # fmt: skip
        return subprocess.run([sys.executable, "-m", "qt", *args], cwd=REPO, env=env, capture_output=True,
                              text=True, timeout=300, check=False)  # fmt: skip

    def baseline(self) -> Outcome:
        if self._base is None:
            state = self.root / "paper-baseline" / "state"
            ok(self.process(state, None))
            self._base = self.finish(state)
        return self._base

    def run(self, state: Path, kills: list[Kill]) -> Outcome:
        base = self.baseline()
        for kill in kills:
            if kill.what == "pacer":
                pytest.skip("the paper broker places synchronously: no order ever waits inside qt")
            done = last_recorded(state)
            fault, _ = fault_for(kill, base, self.first_live() if done is None else done + 1)
            crashed = self.process(state, fault)
            assert crashed.returncode == SIGKILL_EXIT, f"{fault} did not fire: {crashed.stderr[-3000:]}"
        ok(self.process(state, None))
        return self.finish(state)

    def finish(self, state: Path) -> Outcome:
        book = open_book(state)
        try:
            assert book.integrity_check() == []
            placed = dict(placements(book))
        finally:
            book.close()
        return outcome(state, placed)


# -- the IB adapter through the gateway simulator --------------------------------------------------------------
class IBRig:
    """``broker=ib`` against a simulator whose clock the test moves one bar at a time (LIVE bars from NOW)."""

    name = "ib"

    def __init__(self, panel: Any, root: Path) -> None:
        self.panel, self.root = panel, root
        self._base: Outcome | None = None
        self._first: int | None = None

    def first_live(self) -> int:
        assert self._first is not None
        return self._first

    def baseline(self) -> Outcome:
        if self._base is None:
            state = self.root / "ib-baseline" / "state"
            self._base = self.run(state, [])
            store = open_store(state)
            try:
                self._first = min(int(e.payload["t"]) for e in store.events(kinds=[EventKind.BAR]))
            finally:
                store.close()
        return self._base

    def run(self, state: Path, kills: list[Kill], *, down: int = 0, account: str | None = None) -> Outcome:
        """Run to LIVE bars; each kill: crash there (``down_across``: the clock moves to the decision bar while down)."""
        base = self.baseline() if kills else None
        gt = GatewayThread(panel=self.panel, start=NOW - 1)
        try:
            steps = 0
            for kill in kills:
                assert base is not None
                if kill.what == "before_first_bar":  # SIGKILL from outside; the clock moves on while qt is down
                    steps, code, text = self.drive(gt, state, steps, None, kill_when_ready=True)
                    assert code == SIGKILL_EXIT, text[-3000:]
                    for _ in range(2):
                        gt.call(gt.gw.step(1))
                        steps += 1
                    continue
                done = last_recorded(state)
                fault, decided = fault_for(kill, base, self.first_live() if done is None else done + 1)
                slow = SLOW_PACER if kill.what == "pacer" else ()
                steps, code, text = self.drive(gt, state, steps, fault, extra=slow)
                assert code == SIGKILL_EXIT, f"{fault} did not fire: exit {code}\n{text[-3000:]}"
                if kill.what == "down_across":
                    while self.first_live() + steps <= decided:  # the gateway moves on while qt is down
                        gt.call(gt.gw.step(1))
                        steps += 1
            for _ in range(down):
                gt.call(gt.gw.step(1))
                steps += 1
            steps, code, text = self.drive(gt, state, steps, None)
            assert code == 0, text[-4000:]
            assert "[ib_async.decoder]" not in text
            last = gt.run(lambda: max(m.session for m in gt.gw.record.of(InMsg.REQ_REAL_TIME_BARS)))
            cancels = gt.run(lambda: [m for m in gt.gw.record.of(InMsg.CANCEL_REAL_TIME_BARS) if m.session == last])
            assert len(cancels) == N_ASSETS, "the real-time subscriptions were not cancelled at close"
            placed = gt.run(gt.gw.record.placements_per_ref)
            working = gt.run(lambda: [o.order_ref for o in gt.gw.broker.working_orders()])
            assert working == [], "orders are still working at the gateway"
            broker_positions = gt.run(lambda: {s: p.quantity for s, p in gt.gw.broker.positions.items() if p.quantity})
        finally:
            gt.stop()
        got = outcome(state, placed)
        assert got.positions == pytest.approx(broker_positions, rel=1e-12)
        return got

    def drive(
        self, gt: GatewayThread, state: Path, steps: int, fault: str | None, *, client_id: int = 7,
        run_name: str = "contract", until: int = LIVE, extra: tuple[str, ...] = (), kill_when_ready: bool = False,
    ) -> tuple[int, int, str]:  # fmt: skip
        """One qt process until it exits, stepping the clock (up to ``until`` steps) each time qt caught up with it.

        Returns (steps taken so far, exit code, output).
        """
        env = {k: v for k, v in os.environ.items() if k not in ("QT_FAULT", "QT_IB_ACCOUNT")}
        env["QT_DEBUG"] = "1"  # a failure shows its traceback
        if fault:
            env["QT_FAULT"] = fault
        args = ["run", "mode=live", "broker=ib", *CONFIG, *IB_ONLY, f"broker.port={gt.gw.port}",
                f"broker.client_id={client_id}", f"live.run_name={run_name}",
                f"broker.stop_after_bars={until - steps}", f"live.state_dir={state}",
                f"hydra.run.dir={state.parent / ('hydra-' + uuid.uuid4().hex[:8])}", *extra]  # fmt: skip
        proc = subprocess.Popen([sys.executable, "-m", "qt", *args], cwd=REPO, env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
        stepped = 0
        try:
            while proc.poll() is None:
                if steps < until and self.caught_up(gt, state, client_id, first=stepped == 0):
                    if kill_when_ready:  # warmed up and subscribed, before its first live bar
                        proc.kill()
                        break
                    gt.call(gt.gw.step(1))
                    steps, stepped = steps + 1, stepped + 1
                time.sleep(0.05)
            out, _ = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        return steps, proc.returncode, out

    def caught_up(self, gt: GatewayThread, state: Path, client_id: int, *, first: bool) -> bool:
        """qt recorded the gateway's current bar (or, new, waits for its first) and every order it sent is done."""
        if not (state / "state.sqlite").exists():
            return False
        store = open_store(state)
        try:
            last = store.last_bar()
            sent = {
                o.client_order_id for o in store.orders() if o.status not in (OrderStatus.DENIED, OrderStatus.NOT_SENT)
            }
        finally:
            store.close()
        now = gt.run(gt.gw.market.timestamp)
        subscribed = gt.run(
            lambda: any(len(s.real_time_bars) >= N_ASSETS for s in gt.gw.sessions if s.client_id == client_id)
        )
        if not subscribed or not ((last is None and first) or (last is not None and last.time == now)):
            return False
        at_gateway = gt.run(lambda: {o.order_ref for o in gt.gw.broker.orders.values()})
        return sent <= at_gateway and not gt.run(gt.gw.broker.working_orders)


@pytest.fixture(scope="module")
def rigs(panel: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("contract")
    return {"paper": PaperRig(panel, root), "ib": IBRig(panel, root)}


ADAPTERS = ["paper", "ib"]


@pytest.mark.parametrize("adapter", ADAPTERS)
@pytest.mark.parametrize(
    "kill", ["after_intent", "mid_burst", "pacer", "between_bars", "down_across"],
)  # fmt: skip
def test_a_killed_run_ends_as_the_uninterrupted_run(rigs: dict[str, Any], adapter: str, kill: str,
                                                    tmp_path: Path) -> None:  # fmt: skip
    rig = rigs[adapter]
    base = rig.baseline()
    got = rig.run(tmp_path / "state", [Kill(kill, decision=1)])
    assert_same(got, base)
    if kill in ("after_intent", "mid_burst", "pacer"):
        assert any("never reached the broker" in m for m in got.alerts), "the unsent orders were not reported"


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_three_kills_in_one_run(rigs: dict[str, Any], adapter: str, tmp_path: Path) -> None:
    rig = rigs[adapter]
    base = rig.baseline()
    kills = [Kill("mid_burst", 0), Kill("after_intent", 1), Kill("between_bars", 1)]
    assert_same(rig.run(tmp_path / "state", kills), base)


def test_a_decision_due_while_down_is_made_late_once_at_the_restart_bar(rigs: dict[str, Any], tmp_path: Path) -> None:
    """IB down across a decision bar and one more: every bar marked at its price, the decision made once, late."""
    rig = rigs["ib"]
    base = rig.baseline()
    sending = [(t, n) for t, n in base.decisions if n > 0]
    due, _ = sending[1]
    got = rig.run(tmp_path / "state", [Kill("down_across", 1)], down=1)
    assert [t for t, _ in got.decisions] == [t if t != due else due + 1 for t, _ in base.decisions]
    day = str(base.equity["timestamp"][due - rig.first_live()])[:10]
    restart = str(base.equity["timestamp"][due + 1 - rig.first_live()])[:10]
    assert any(f"decision due at {day} was missed while qt was down" in m and f"restart bar {restart}" in m
               for m in got.alerts), got.alerts  # fmt: skip
    assert {c: n for c, n in got.placed.items() if n != 1} == {}
    pd.testing.assert_series_equal(got.equity["timestamp"], base.equity["timestamp"])  # every bar recorded ...
    nav = got.equity["nav"].to_numpy()
    assert (nav > 0).all()  # ... at its price, never NAV 0
    upto = due - rig.first_live() + 1  # up to the missed decision's bar, nothing differs
    assert np.allclose(nav[:upto], base.equity["nav"].to_numpy()[:upto], rtol=1e-9, atol=0)
    assert got.open_orders == [] and got.integrity == []


def test_two_ib_runs_on_one_account_never_book_each_others_executions(panel: Any, tmp_path: Path) -> None:
    """Run A trades, then run B (another state folder, client id and run name) on the same account, then A again."""
    rig = IBRig(panel, tmp_path)
    gt = GatewayThread(panel=panel, start=NOW - 1)
    a, b = tmp_path / "a" / "state", tmp_path / "b" / "state"
    try:
        steps, code, text = rig.drive(gt, a, 0, None, client_id=7, run_name="alpha", until=8)
        assert code == 0, text[-3000:]
        steps, code, text = rig.drive(gt, b, steps, None, client_id=8, run_name="beta", until=14)
        assert code == 0, text[-3000:]
        steps, code, text = rig.drive(gt, a, steps, None, client_id=7, run_name="alpha", until=16)
        assert code == 0, text[-3000:]
        executions = gt.run(lambda: [(e.exec_id, e.order.order_ref) for e in gt.gw.broker.executions])
        account = gt.run(lambda: {s: p.quantity for s, p in gt.gw.broker.positions.items() if p.quantity})
    finally:
        gt.stop()
    mine = {}
    for state, name in ((a, "alpha"), (b, "beta")):
        store = open_store(state)
        try:
            booked = {f.exec_id for f in store.fills()}
            own = {x for x, ref in executions if in_namespace(name, ref)}
            assert booked == own, f"{name} booked executions that are not its own (or missed its own)"
            assert store.trading_state().state is TradingState.ACTIVE, store.trading_state()
            mine[name] = {s: q for s, q in store.positions().items() if abs(q) > 1e-12}
            assert store.integrity_check() == []
            others = store.last_reconcile().payload["others"]  # type: ignore[union-attr]
            assert others, (f"{name}'s reconciliation does not explain the other run's positions: "
                            f"{store.last_reconcile().payload} {executions}")  # type: ignore[union-attr]  # fmt: skip
        finally:
            store.close()
    assert mine["alpha"] and mine["beta"]
    total = {s: mine["alpha"].get(s, 0.0) + mine["beta"].get(s, 0.0) for s in set(mine["alpha"]) | set(mine["beta"])}
    assert {s: q for s, q in total.items() if abs(q) > 1e-9} == pytest.approx(account, rel=1e-12)


def test_ib_killed_before_its_first_live_bar_marks_the_bars_it_missed(rigs: dict[str, Any], tmp_path: Path) -> None:
    """Warmed up, subscribed, killed; two bars pass: the restart steps them (not warm-up) and ends as uninterrupted."""
    rig = rigs["ib"]
    base = rig.baseline()
    assert base.decisions[0][0] >= rig.first_live() + 2  # the two bars missed decide nothing
    assert_same(rig.run(tmp_path / "state", [Kill("before_first_bar")]), base)


def test_orders_queued_in_the_pacer_are_not_sent_and_never_listed_open_after_bars_passed(
    rigs: dict[str, Any], tmp_path: Path
) -> None:
    """Killed with orders in IB's pacer, down one more bar: they are NOT_SENT (stale, not resent), never open."""
    rig = rigs["ib"]
    base = rig.baseline()
    state = tmp_path / "state"
    got = rig.run(state, [Kill("pacer", 1)], down=1)
    store = open_store(state)
    try:
        stale = [o for o in store.orders() if o.status is OrderStatus.NOT_SENT]
        assert stale and all("still queued inside qt" in o.reason for o in stale)
        assert not any(o.client_order_id in got.placed for o in stale)  # never reached the gateway
    finally:
        store.close()
    assert {c: n for c, n in got.placed.items() if n != 1} == {}
    assert got.open_orders == [] and got.integrity == []
    shown = subprocess.run([sys.executable, "-m", "qt", "live", "status", "--state-dir", str(state), "--json"],
                           cwd=REPO, capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["open_orders"] == []
    assert (got.equity["nav"] > 0).all()
    pd.testing.assert_series_equal(got.equity["timestamp"], base.equity["timestamp"])
