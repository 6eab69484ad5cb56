"""Recovery at start: bring the store up to date with the broker before any decision.

Intents stored but never acknowledged are looked up at the broker (NOT_SENT when it never
received them), fills that happened while qt was down are booked once, qt's working orders
are re-attached, foreign orders are reported and left alone, and positions are compared:
a difference the log cannot explain halts trading with a report naming each symbol, unless
the user opted to adopt the broker's positions (booked as external fills).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from qt.enums import OrderStatus, TradingState
from qt.live.broker import Broker
from qt.live.store import FillRecord, LiveStore, OrderUpdate


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

    @property
    def clean(self) -> bool:
        """No position breaks left."""
        return not self.breaks or self.adopted

    def report(self) -> str:
        """One line per position break."""
        return "; ".join(f"{s}: qt {q:g} vs broker {b:g}" for s, (q, b) in sorted(self.breaks.items()))


def reconcile(store: LiveStore, broker: Broker, *, adopt: bool, now: dt.datetime) -> Reconciliation:
    """Sync ``store`` with ``broker``; halt (in the store) on an unexplained position difference unless ``adopt``."""
    not_sent, reattached = [], []
    for order in store.orders(status=(OrderStatus.NEW, OrderStatus.SUBMITTED, OrderStatus.PARTIALLY_FILLED)):
        seen = broker.order(order.client_order_id)
        if seen is None and order.status is OrderStatus.NEW:
            reason = "stored before a restart and never received by the broker"
            store.record_order_update(OrderUpdate(order.client_order_id, OrderStatus.NOT_SENT, now, reason=reason))
            not_sent.append(order.client_order_id)
        elif seen is not None:
            if order.status is OrderStatus.NEW:
                store.record_order_update(OrderUpdate(order.client_order_id, OrderStatus.SUBMITTED, now))
            if seen.status in (OrderStatus.CANCELLED, OrderStatus.REJECTED):
                store.record_order_update(OrderUpdate(order.client_order_id, seen.status, now, reason=seen.reason))
            elif seen.status.is_open:
                reattached.append(order.client_order_id)
    booked: list[FillRecord] = []
    for ex in broker.executions():
        if ex.client_order_id is None or store.order(ex.client_order_id) is None:
            continue  # not an order of qt's: the position it made is a break below (halt, or adopt as external)
        fill = FillRecord(ex.exec_id, ex.client_order_id, ex.symbol, ex.quantity, ex.price, ex.fees, ex.time)
        if store.record_fill(fill):
            booked.append(fill)
    ours = {o.client_order_id for o in store.orders()}
    foreign = [o.client_order_id for o in broker.open_orders() if o.client_order_id not in ours]
    for ref in foreign:
        store.record_alert(f"foreign order {ref} at the broker: reported, left alone", time=now)
    mine, theirs = store.positions(), broker.positions()
    breaks = {
        s: (mine.get(s, 0.0), theirs.get(s, 0.0))
        for s in sorted(set(mine) | set(theirs))
        if abs(mine.get(s, 0.0) - theirs.get(s, 0.0)) > 1e-9 * max(1.0, abs(theirs.get(s, 0.0)))
    }
    result = Reconciliation(len(booked), not_sent, reattached, foreign, breaks, adopted=adopt and bool(breaks),
                            booked=booked)  # fmt: skip
    if breaks and adopt:
        for s, (q, b) in breaks.items():
            stamp = now.strftime("%Y%m%dT%H%M%S%f")
            store.record_fill(FillRecord(f"adopt-{s}-{stamp}", None, s, b - q, 0.0, 0.0, now, source="external"))
        store.record_alert("adopted the broker's positions as external: " + result.report(), time=now)
    elif breaks:
        reason = "reconciliation: positions differ from the broker's: " + result.report()
        store.set_trading_state(TradingState.HALTED, reason, time=now)
        store.record_alert(reason + " (restart with live.adopt_positions=true to adopt them)", severity="critical",
                           time=now)  # fmt: skip
    store.record_event(
        "reconcile",  # type: ignore[arg-type]
        {"fills_booked": len(booked), "not_sent": not_sent, "reattached": reattached, "foreign": foreign,
         "breaks": {s: list(v) for s, v in breaks.items()}, "adopted": result.adopted},
        time=now,
    )  # fmt: skip
    return result
