"""The typed journal: one frozen class per kind of event a live run records, encoded and decoded here only.

The store's append-only log keeps each event as ``(kind, JSON payload)``; :func:`encode` turns a
journal record into that pair and :func:`decode` turns it back, so every reader (the driver at a
restart, the run's result files, ``qt live status``) sees typed fields instead of dict keys.
Order intents, order updates and fills are the store's own records (``qt.live.store.records``).

Examples
--------
>>> kind, payload = encode(FeedStale("stale data: no bar within 5 s"))
>>> kind.value, payload
('feed_stale', {'reason': 'stale data: no bar within 5 s'})
>>> decode(kind, payload)
FeedStale(reason='stale data: no bar within 5 s')
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

import numpy as np

from qt.enums import HaltCause, TradingState
from qt.live.store.errors import StoreError
from qt.live.store.records import EventKind, FillRecord, OrderIntent, OrderUpdate
from qt.risk.stops.base import RiskEvent
from qt.types import FillBatch, OrderBatch, SolveReport


class Severity(StrEnum):
    """How urgent an alert is (critical alerts are the ones notifiers page on)."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class Request(StrEnum):
    """What ``qt live`` asks a running (or the next) live process to do beyond setting the trading state."""

    FLATTEN = "flatten"


def _floats(values: Any) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


def _finite_or_none(value: Any) -> float | None:
    return None if value is None or not math.isfinite(float(value)) else float(value)


@dataclass(frozen=True)
class RecordedFills:
    """What became of one decision's orders at one bar (a ``FillBatch`` as plain tuples, asset indices)."""

    decided_at: int
    filled_at: int
    assets: tuple[int, ...]
    quantities: tuple[float, ...]
    status: tuple[str, ...]
    prices: tuple[float, ...]
    fees: tuple[float, ...]
    reasons: tuple[str, ...]

    @classmethod
    def from_batch(cls, b: FillBatch) -> RecordedFills:
        """The record of a fill batch."""
        return cls(
            int(b.orders.decided_at), int(b.filled_at), tuple(b.orders.assets.tolist()),
            tuple(b.orders.quantities.tolist()), tuple(str(s) for s in b.status), tuple(b.prices.tolist()),
            tuple(b.fees.tolist()), tuple(str(r) for r in b.reasons),
        )  # fmt: skip

    def to_batch(self) -> FillBatch:
        """The fill batch again (numpy columns)."""
        orders = OrderBatch(self.decided_at, np.asarray(self.assets, dtype=np.intp), np.asarray(self.quantities))
        return FillBatch(orders, self.filled_at, np.asarray(self.status), np.asarray(self.prices),
                         np.asarray(self.fees), np.asarray(self.reasons, dtype=object))  # fmt: skip

    def to_payload(self) -> dict[str, Any]:
        """The JSON form."""
        return {"decided_at": self.decided_at, "filled_at": self.filled_at, "assets": list(self.assets),
                "quantities": list(self.quantities), "status": list(self.status), "prices": list(self.prices),
                "fees": list(self.fees), "reasons": list(self.reasons)}  # fmt: skip

    @classmethod
    def from_payload(cls, p: Mapping[str, Any]) -> RecordedFills:
        """The record a JSON form holds."""
        return cls(int(p["decided_at"]), int(p["filled_at"]), tuple(int(a) for a in p["assets"]),
                   _floats(p["quantities"]), tuple(map(str, p["status"])), _floats(p["prices"]),
                   _floats(p["fees"]), tuple(map(str, p["reasons"])))  # fmt: skip


@dataclass(frozen=True)
class BarRecorded:
    """A bar processed: the book after it, the fills booked at it, and the stops' memory (NAV's peak, halt end)."""

    kind: ClassVar[EventKind] = EventKind.BAR

    t: int
    nav: float
    cash: float
    gross: float
    net: float
    traded: float
    fills: tuple[RecordedFills, ...] = ()
    peak: float | None = None
    resume_at: int | None = None

    def to_payload(self) -> dict[str, Any]:
        """The JSON form."""
        return {"t": self.t, "nav": self.nav, "cash": self.cash, "gross": self.gross, "net": self.net,
                "traded": self.traded, "fills": [f.to_payload() for f in self.fills], "peak": self.peak,
                "resume_at": self.resume_at}  # fmt: skip

    @classmethod
    def from_payload(cls, p: Mapping[str, Any]) -> BarRecorded:
        """The record a JSON form holds."""
        return cls(
            int(p["t"]), float(p["nav"]), float(p["cash"]), float(p["gross"]), float(p["net"]), float(p["traded"]),
            tuple(RecordedFills.from_payload(f) for f in p.get("fills") or ()),
            None if p.get("peak") is None else float(p["peak"]),
            None if p.get("resume_at") is None else int(p["resume_at"]),
        )  # fmt: skip


@dataclass(frozen=True)
class DecidedOrders:
    """The orders a decision sends: asset indices, signed quantities, and why each was clipped ("" if not)."""

    assets: tuple[int, ...] = ()
    quantities: tuple[float, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class DecisionRecorded:
    """A decision, recorded before its orders are sent (a restart resumes it instead of deciding again).

    ``risk`` keeps None where a figure was not available (NaN before enough history).
    """

    kind: ClassVar[EventKind] = EventKind.DECISION

    t: int
    before: tuple[float, ...]
    target: tuple[float, ...]
    risk: Mapping[str, float | None] = field(default_factory=dict)
    report: SolveReport | None = None
    orders: DecidedOrders = DecidedOrders()
    refused: RecordedFills | None = None

    @classmethod
    def from_outcome(cls, out: Any) -> DecisionRecorded:
        """The record of a ``qt.engine.pipeline.DecisionOutcome``."""
        d = out.decision
        return cls(
            int(d.t), tuple(d.before.tolist()), tuple(d.target.tolist()),
            {str(k): _finite_or_none(v) for k, v in d.risk.items()}, d.report,
            DecidedOrders(tuple(out.orders.assets.tolist()), tuple(out.orders.quantities.tolist()),
                          tuple(str(n) for n in out.notes)),
            None if out.refused is None else RecordedFills.from_batch(out.refused),
        )  # fmt: skip

    def risk_figures(self) -> dict[str, float]:
        """The risk figures with NaN where none was available."""
        return {k: float("nan") if v is None else float(v) for k, v in self.risk.items()}

    def order_batch(self, t: int) -> OrderBatch:
        """The decision's orders as an order batch decided at bar ``t``."""
        return OrderBatch(t, np.asarray(self.orders.assets, dtype=np.intp), np.asarray(self.orders.quantities))

    def to_payload(self) -> dict[str, Any]:
        """The JSON form."""
        report = None
        if self.report is not None:
            r = self.report
            report = {"status": r.status, "solver": r.solver, "steps": list(r.steps), "solve_ms": r.solve_ms}
        return {
            "t": self.t, "before": list(self.before), "target": list(self.target), "risk": dict(self.risk),
            "report": report,
            "orders": {"assets": list(self.orders.assets), "quantities": list(self.orders.quantities),
                       "notes": list(self.orders.notes)},
            "refused": None if self.refused is None else self.refused.to_payload(),
        }  # fmt: skip

    @classmethod
    def from_payload(cls, p: Mapping[str, Any]) -> DecisionRecorded:
        """The record a JSON form holds."""
        r, o = p.get("report"), p.get("orders") or {}
        report = None
        if r is not None:
            report = SolveReport(str(r["status"]), str(r["solver"]), tuple(map(str, r.get("steps") or ())),
                                 float(r.get("solve_ms", 0.0)))  # fmt: skip
        return cls(
            int(p["t"]), _floats(p["before"]), _floats(p["target"]),
            {str(k): None if v is None else float(v) for k, v in (p.get("risk") or {}).items()}, report,
            DecidedOrders(tuple(int(a) for a in o.get("assets", ())), _floats(o.get("quantities", ())),
                          tuple(map(str, o.get("notes", ())))),
            None if p.get("refused") is None else RecordedFills.from_payload(p["refused"]),
        )  # fmt: skip


@dataclass(frozen=True)
class TradingStateChanged:
    """The trading state set, why (shown to people) and its typed cause (which decides how it resumes)."""

    kind: ClassVar[EventKind] = EventKind.TRADING_STATE

    state: TradingState
    reason: str
    cause: HaltCause = HaltCause.NONE

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", TradingState(self.state))
        object.__setattr__(self, "cause", HaltCause(self.cause))
        if not self.reason:
            raise StoreError("trading state change: give a reason (it is shown by `qt live status`)")

    def to_payload(self) -> dict[str, Any]:
        """The JSON form."""
        return {"state": self.state.value, "reason": self.reason, "cause": self.cause.value}

    @classmethod
    def from_payload(cls, p: Mapping[str, Any]) -> TradingStateChanged:
        """The record a JSON form holds."""
        return cls(TradingState(p["state"]), str(p["reason"]), HaltCause(p["cause"]))


@dataclass(frozen=True)
class Alert:
    """Something people should know: halts, reconciliation breaks, lost orders, a stop's risk event.

    ``risk_event`` is the post-trade stop's event behind the alert; ``order`` the client order id it is about.
    """

    kind: ClassVar[EventKind] = EventKind.ALERT

    message: str
    severity: Severity = Severity.WARNING
    risk_event: RiskEvent | None = None
    order: str | None = None

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "severity", Severity(self.severity))
        except ValueError:
            raise StoreError(
                f"alert severity {self.severity!r}: choose one of {', '.join(s.value for s in Severity)}"
            ) from None

    def to_payload(self) -> dict[str, Any]:
        """The JSON form."""
        e = self.risk_event
        risk = None if e is None else {"t": e.t, "kind": e.kind, "detail": e.detail, "scale": e.scale,
                                       "halt": e.halt, "resume_after": e.resume_after}  # fmt: skip
        return {"message": self.message, "severity": self.severity.value, "risk_event": risk, "order": self.order}

    @classmethod
    def from_payload(cls, p: Mapping[str, Any]) -> Alert:
        """The record a JSON form holds."""
        e = p.get("risk_event")
        risk = None
        if e is not None:
            after = e.get("resume_after")
            risk = RiskEvent(int(e["t"]), str(e["kind"]), str(e["detail"]), float(e["scale"]), bool(e["halt"]),
                             None if after is None else int(after))  # fmt: skip
        return cls(str(p["message"]), Severity(p.get("severity", "warning")), risk, p.get("order"))


@dataclass(frozen=True)
class ReconcileReport:
    """What recovery found at start, and whether the broker's positions were adopted.

    Fills booked while down, unsent intents, re-attached and foreign orders, position breaks
    (symbol -> (qt's, broker's)), and on a shared account the positions other owners' executions
    made (symbol -> shares) with those executions' ids (reported, never booked).
    """

    kind: ClassVar[EventKind] = EventKind.RECONCILE

    fills_booked: int = 0
    not_sent: tuple[str, ...] = ()
    reattached: tuple[str, ...] = ()
    foreign: tuple[str, ...] = ()
    breaks: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    adopted: bool = False
    others: Mapping[str, float] = field(default_factory=dict)
    foreign_executions: tuple[str, ...] = ()

    def to_payload(self) -> dict[str, Any]:
        """The JSON form."""
        return {"fills_booked": self.fills_booked, "not_sent": list(self.not_sent),
                "reattached": list(self.reattached), "foreign": list(self.foreign),
                "breaks": {s: [float(q), float(b)] for s, (q, b) in self.breaks.items()},
                "adopted": self.adopted, "others": {s: float(q) for s, q in self.others.items()},
                "foreign_executions": list(self.foreign_executions)}  # fmt: skip

    @classmethod
    def from_payload(cls, p: Mapping[str, Any]) -> ReconcileReport:
        """The record a JSON form holds."""
        return cls(int(p["fills_booked"]), tuple(map(str, p["not_sent"])), tuple(map(str, p["reattached"])),
                   tuple(map(str, p["foreign"])),
                   {str(s): (float(v[0]), float(v[1])) for s, v in (p.get("breaks") or {}).items()},
                   bool(p["adopted"]), {str(s): float(q) for s, q in (p.get("others") or {}).items()},
                   tuple(map(str, p.get("foreign_executions") or ())))  # fmt: skip


@dataclass(frozen=True)
class CashMoved:
    """Cash added (negative: withdrawn) outside trading: initial capital, transfers, adopted balances."""

    kind: ClassVar[EventKind] = EventKind.CASH

    amount: float
    reason: str

    def to_payload(self) -> dict[str, Any]:
        """The JSON form."""
        return {"amount": float(self.amount), "reason": self.reason}

    @classmethod
    def from_payload(cls, p: Mapping[str, Any]) -> CashMoved:
        """The record a JSON form holds."""
        return cls(float(p["amount"]), str(p["reason"]))


@dataclass(frozen=True)
class EquityRecorded:
    """One point of the equity series (NAV and cash)."""

    kind: ClassVar[EventKind] = EventKind.EQUITY

    equity: float
    cash: float

    def to_payload(self) -> dict[str, Any]:
        """The JSON form."""
        return {"equity": float(self.equity), "cash": float(self.cash)}

    @classmethod
    def from_payload(cls, p: Mapping[str, Any]) -> EquityRecorded:
        """The record a JSON form holds."""
        return cls(float(p["equity"]), float(p["cash"]))


# -- health: one class per thing that happens, not one kind with five payload shapes ----------------
@dataclass(frozen=True)
class Connected:
    """The broker connection is up and synchronized (gateway address, server version, read-only or not)."""

    kind: ClassVar[EventKind] = EventKind.CONNECTED

    gateway: str
    server_version: int
    readonly: bool

    def to_payload(self) -> dict[str, Any]:
        """The JSON form."""
        return {"gateway": self.gateway, "server_version": self.server_version, "readonly": self.readonly}

    @classmethod
    def from_payload(cls, p: Mapping[str, Any]) -> Connected:
        """The record a JSON form holds."""
        return cls(str(p["gateway"]), int(p["server_version"]), bool(p["readonly"]))


@dataclass(frozen=True)
class OperatorRequest:
    """A request from ``qt live`` (another process) that the live process carries out and then answers."""

    kind: ClassVar[EventKind] = EventKind.REQUEST

    request: Request
    reason: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "request", Request(self.request))

    def to_payload(self) -> dict[str, Any]:
        """The JSON form."""
        return {"request": self.request.value, "reason": self.reason}

    @classmethod
    def from_payload(cls, p: Mapping[str, Any]) -> OperatorRequest:
        """The record a JSON form holds."""
        return cls(Request(p["request"]), str(p["reason"]))


@dataclass(frozen=True)
class RequestHandled:
    """The live process carried out the request logged at ``request_seq`` (``outcome`` says what it did)."""

    kind: ClassVar[EventKind] = EventKind.REQUEST_HANDLED

    request_seq: int
    outcome: str

    def to_payload(self) -> dict[str, Any]:
        """The JSON form."""
        return {"request_seq": self.request_seq, "outcome": self.outcome}

    @classmethod
    def from_payload(cls, p: Mapping[str, Any]) -> RequestHandled:
        """The record a JSON form holds."""
        return cls(int(p["request_seq"]), str(p["outcome"]))


@dataclass(frozen=True)
class FeedStale:
    """No bar arrived within the stale limit: trading halts until bars arrive again."""

    kind: ClassVar[EventKind] = EventKind.FEED_STALE

    reason: str

    def to_payload(self) -> dict[str, Any]:
        """The JSON form."""
        return {"reason": self.reason}

    @classmethod
    def from_payload(cls, p: Mapping[str, Any]) -> FeedStale:
        """The record a JSON form holds."""
        return cls(str(p["reason"]))


@dataclass(frozen=True)
class HistoryOrigin:
    """The first warm-up bar of this state folder (bar numbers stay the same across restarts)."""

    kind: ClassVar[EventKind] = EventKind.HISTORY_ORIGIN

    origin: str  # the bar's timestamp as ISO-8601 text (numpy datetime64 precision kept)
    warm_end: str | None = None  # the first start's last warm-up bar: later ones passed while qt was down

    def to_payload(self) -> dict[str, Any]:
        """The JSON form."""
        return {"origin": self.origin} if self.warm_end is None else {"origin": self.origin, "warm_end": self.warm_end}

    @classmethod
    def from_payload(cls, p: Mapping[str, Any]) -> HistoryOrigin:
        """The record a JSON form holds."""
        return cls(str(p["origin"]), None if p.get("warm_end") is None else str(p["warm_end"]))


HEALTH = (Connected, OperatorRequest, RequestHandled, FeedStale, HistoryOrigin)
JOURNAL = (BarRecorded, DecisionRecorded, TradingStateChanged, Alert, ReconcileReport, CashMoved, EquityRecorded,
           *HEALTH)  # fmt: skip
Entry = (
    BarRecorded
    | DecisionRecorded
    | TradingStateChanged
    | Alert
    | ReconcileReport
    | CashMoved
    | EquityRecorded
    | Connected
    | OperatorRequest
    | RequestHandled
    | FeedStale
    | HistoryOrigin
)
Record = Entry | OrderIntent | OrderUpdate | FillRecord
_BY_KIND: dict[EventKind, Any] = {cls.kind: cls for cls in JOURNAL}
_STORE_RECORDS: dict[type, EventKind] = {
    OrderIntent: EventKind.INTENT, OrderUpdate: EventKind.ORDER_UPDATE, FillRecord: EventKind.FILL
}  # fmt: skip
_BY_KIND |= {kind: cls for cls, kind in _STORE_RECORDS.items()}
KIND_OF: dict[type, EventKind] = {cls: kind for kind, cls in _BY_KIND.items()}  # journal class -> its log kind


def kind_of(record: Record) -> EventKind:
    """The log kind a record is stored under."""
    kind = getattr(record, "kind", None) or _STORE_RECORDS.get(type(record))
    if kind is None:
        raise StoreError(f"{type(record).__name__} is not a journal record; use one of qt.live.journal's classes")
    return kind


def encode(record: Record) -> tuple[EventKind, dict[str, Any]]:
    """A record as the log's ``(kind, JSON payload)``."""
    return kind_of(record), record.to_payload()


def decode(kind: EventKind | str, payload: Mapping[str, Any]) -> Record:
    """The typed record a log entry holds; StoreError naming the kind when the payload does not fit it."""
    kind = EventKind(kind)
    try:
        return _BY_KIND[kind].from_payload(payload)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise StoreError(f"a {kind.value} event does not decode ({type(exc).__name__}: {exc}): {dict(payload)!r}"
                         ) from None  # fmt: skip
