"""Recovery at start: bring the store up to date with the broker before any decision.

Intents stored but never received by the broker are marked NOT_SENT: those stored NEW, and those
stored SUBMITTED that the broker does not know (an adapter that queues orders inside qt, such as
IB's pacer, had not sent them when the process stopped), so ``qt live status`` never lists an
order the broker does not have. Fills that happened while qt was down are booked once, qt's
working orders are re-attached, foreign orders are reported and left alone. Executions outside
this run's client-order-id namespace (another run or program on a shared account) are foreign:
reported, never booked; the positions they made are explained in the report. Positions are then
compared: a difference neither the log nor others' executions explain halts trading with a report
naming each symbol, unless the user opted to adopt the broker's positions (booked as external fills).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from qt.enums import HaltCause, OrderStatus, TradingState
from qt.live.broker import Broker, Execution
from qt.live.journal import ReconcileReport
from qt.live.namespace import ownership
from qt.live.store import FillRecord, LiveStore, OrderUpdate
from qt.types import FillBatch, OrderBatch

NEVER_RECEIVED = "stored before a restart and never received by the broker"
QUEUED_AT_STOP = (
    "stored as sent, but the broker never received it: it was still queued inside qt (pacing) when the process stopped"
)


@dataclass(frozen=True)
class Reconciliation:
    """What recovery found: fills booked while down, unsent intents, foreign orders, position breaks."""

    fills_booked: int = 0
    not_sent: list[str] = field(default_factory=list)
    reattached: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    breaks: dict[str, tuple[float, float]] = field(default_factory=dict)  # symbol -> (qt's, broker's)
    adopted: bool = False
    booked: list[FillRecord] = field(default_factory=list)  # the fills booked here, in the broker's order
    others: dict[str, float] = field(default_factory=dict)  # symbol -> shares others' executions on the account made
    foreign_executions: list[str] = field(default_factory=list)  # exec ids of those executions (never booked)

    @property
    def clean(self) -> bool:
        """No position breaks left."""
        return not self.breaks or self.adopted

    def report(self) -> str:
        """One line per position break."""
        return "; ".join(f"{s}: qt {q:g} vs broker {b:g}" for s, (q, b) in sorted(self.breaks.items()))

    def others_report(self) -> str:
        """Positions on the account explained by other owners' executions (empty when none)."""
        return "; ".join(f"{s}: {q:g} shares from others' orders" for s, q in sorted(self.others.items()) if q)


def reconcile(
    store: LiveStore, broker: Broker, *, adopt: bool, now: dt.datetime, run_name: str | None = None
) -> Reconciliation:
    """Sync ``store`` with ``broker``; halt (in the store) on an unexplained position difference unless ``adopt``.

    ``run_name``: this run's client-order-id namespace (``qt.live.namespace``); without it, only orders in
    the store are this run's.
    """
    ours = ownership(run_name, lambda ref: store.order(ref) is not None)
    executions = broker.executions()
    executed = {ex.client_order_id for ex in executions if ex.client_order_id}
    not_sent, reattached = [], []
    for order in store.orders(status=(OrderStatus.NEW, OrderStatus.SUBMITTED, OrderStatus.PARTIALLY_FILLED)):
        cid = order.client_order_id
        seen = broker.order(cid)
        if seen is None and cid not in executed:
            reason = NEVER_RECEIVED if order.status is OrderStatus.NEW else QUEUED_AT_STOP
            store.record_order_update(OrderUpdate(cid, OrderStatus.NOT_SENT, now, reason=reason))
            not_sent.append(cid)
        elif seen is not None:
            if order.status is OrderStatus.NEW:
                store.record_order_update(OrderUpdate(cid, OrderStatus.SUBMITTED, now))
            if seen.status in (OrderStatus.CANCELLED, OrderStatus.REJECTED):
                store.record_order_update(OrderUpdate(cid, seen.status, now, reason=seen.reason))
            elif seen.status.is_open:
                reattached.append(cid)
    booked: list[FillRecord] = []
    others: dict[str, float] = {}
    foreign_execs: list[Execution] = []
    for ex in executions:
        if not ours(ex.client_order_id):
            foreign_execs.append(ex)
            if ex.client_order_id:  # another program's order: it explains its share of the account's position
                others[ex.symbol] = others.get(ex.symbol, 0.0) + ex.quantity
            continue
        if store.order(ex.client_order_id or "") is None:
            store.record_alert(f"execution {ex.exec_id} of {ex.client_order_id}: this run's id, but not in its "
                               "store; not booked", severity="critical", time=now)  # fmt: skip
            continue
        fill = FillRecord(ex.exec_id, ex.client_order_id, ex.symbol, ex.quantity, ex.price, ex.fees, ex.time)
        if store.record_fill(fill):
            booked.append(fill)
    foreign = [o.client_order_id for o in broker.open_orders() if not ours(o.client_order_id)]
    for ref in foreign:
        store.record_alert(f"foreign order {ref} at the broker: reported, left alone", time=now)
    mine, theirs = store.positions(), broker.positions()
    differs = {
        s: (mine.get(s, 0.0), theirs.get(s, 0.0)) for s in sorted(set(mine) | set(theirs))
        if not _close(mine.get(s, 0.0), theirs.get(s, 0.0))
    }  # fmt: skip
    breaks = {s: v for s, v in differs.items() if not _close(v[0] + others.get(s, 0.0), v[1])}  # others' explain
    adopting = adopt and bool(differs)
    result = Reconciliation(len(booked), not_sent, reattached, foreign, breaks, adopted=adopting,
                            booked=booked, others={s: q for s, q in others.items() if q},
                            foreign_executions=[e.exec_id for e in foreign_execs])  # fmt: skip
    if result.others and not adopting:
        store.record_alert(
            f"the account also holds positions of other owners (their executions, not booked by this run): "
            f"{result.others_report()}", time=now,
        )  # fmt: skip
    if adopting:  # the broker's positions become this run's, others' included: the user asked for exactly that
        for s, (q, b) in differs.items():
            stamp = now.strftime("%Y%m%dT%H%M%S%f")
            store.record_fill(FillRecord(f"adopt-{s}-{stamp}", None, s, b - q, 0.0, 0.0, now, source="external"))
        adopted = "; ".join(f"{s}: qt {q:g} vs broker {b:g}" for s, (q, b) in differs.items())
        store.record_alert("adopted the broker's positions as external: " + adopted, time=now)
    elif breaks:
        reason = "reconciliation: positions differ from the broker's: " + result.report()
        store.set_trading_state(TradingState.HALTED, reason, time=now, cause=HaltCause.RECONCILIATION)
        store.record_alert(reason + " (restart with live.adopt_positions=true to adopt them)", severity="critical",
                           time=now)  # fmt: skip
    report = ReconcileReport(len(booked), tuple(not_sent), tuple(reattached), tuple(foreign), breaks, result.adopted,
                             result.others, tuple(result.foreign_executions))  # fmt: skip
    store.record(report, time=now)
    return result


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(b))


def held_by_others(broker: Broker, store: LiveStore, run_name: str | None) -> dict[str, float]:
    """Shares per symbol that other owners' executions (an ``orderRef`` outside this run's namespace) put on the account."""
    ours = ownership(run_name, lambda ref: store.order(ref) is not None)
    others: dict[str, float] = {}
    for ex in broker.executions():
        if ex.client_order_id and not ours(ex.client_order_id):
            others[ex.symbol] = others.get(ex.symbol, 0.0) + ex.quantity
    return {s: q for s, q in others.items() if q}


def unexplained_positions(broker: Broker, store: LiveStore, run_name: str | None) -> dict[str, float]:
    """The broker's positions less what other owners' executions explain (a new run on a shared account holds none)."""
    others = held_by_others(broker, store, run_name)
    held = broker.positions()
    out = {s: held.get(s, 0.0) - others.get(s, 0.0) for s in set(held) | set(others)}
    return {s: q for s, q in out.items() if not _close(q, 0.0)}


def resend_queued(store: LiveStore, router: Any, recon: Reconciliation, *, bars_missed: bool) -> list[str]:
    """Send, once, the orders of the last decision that were still queued inside qt when the process stopped.

    An uninterrupted run would have sent them moments later; the broker provably never had them
    (reconciliation marked them NOT_SENT), so sending them now, under the same client order ids,
    makes the restart end where the uninterrupted run ends. Only when the decision's bar is the last
    one recorded and no bar passed while qt was down (``bars_missed``); otherwise they stay NOT_SENT
    (stale) with their alert. The router resumes the decision: ids already at the broker are skipped.
    """
    last, bar = store.last_decision(), store.last_bar()
    if bars_missed or last is None or bar is None or last.time != bar.time:
        return []
    queued = [
        cid for cid in recon.not_sent
        if (o := store.order(cid)) is not None and o.intent.decided_at == last.time and o.reason == QUEUED_AT_STOP
    ]  # fmt: skip
    if not queued:
        return []
    p = last.payload
    t = int(p["t"])
    orders = OrderBatch(t, np.asarray(p["orders"]["assets"], dtype=np.intp), np.asarray(p["orders"]["quantities"]))
    router.new_bar(last.time, router.last_prices)
    router.submit(orders, t, np.asarray(p["orders"]["notes"], dtype=object))
    return queued


def hold_back(recovered: list[FillBatch], ledger: Any, t: int) -> tuple[list[FillBatch], list[FillBatch]]:
    """Split the fills recovery booked: (recorded at bar t as they are, held back to bar t + 1).

    Fills of the decision made at bar t - the first bar the restarted run steps, where it resumes
    that decision - are what an uninterrupted run learns of at the bar after the decision. They are
    taken out of the restored ``ledger`` now and come back, stamped ``t + 1``, through the router
    (``RoutedVenue.deliver_at``), so NAV and cash at every bar equal the uninterrupted run's.
    """
    now, later = [], []
    for batch in recovered:
        if batch.orders.decided_at != t:
            now.append(batch)
            continue
        filled = batch.filled
        quantities = batch.orders.quantities[filled]
        np.add.at(ledger.positions, batch.orders.assets[filled], -quantities)
        ledger.cash += float(quantities @ batch.prices[filled] + batch.fees[filled].sum())
        later.append(replace(batch, filled_at=t + 1))
    return now, later
