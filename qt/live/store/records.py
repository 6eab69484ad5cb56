"""What the live state store keeps: order intents, order updates, fills and log events (frozen, UTC).

Every time is stored in UTC: an aware datetime in any zone is converted, a naive one is refused.
Records turn into the JSON payloads of the event log (``to_payload``) and back (``from_payload``).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import math
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Literal

from qt.enums import HaltCause, OrderStatus, OrderType, Side, TradingState
from qt.live.store.errors import StoreError

UTC = dt.UTC
FillSource = Literal["venue", "external"]
# Statuses no venue message can change any more (LOST and NOT_SENT can: the venue may still report them).
FINAL_STATUSES = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.DENIED, OrderStatus.EXPIRED}
)


class EventKind(StrEnum):
    """What an entry of the append-only event log records (``qt.live.journal`` has one class per kind).

    Schema version 1 had one ``health`` kind with five payload shapes; version 2 splits it into
    ``connected``, ``request``, ``request_handled``, ``feed_stale`` and ``history_origin``.
    """

    DECISION = "decision"
    INTENT = "intent"
    ORDER_UPDATE = "order_update"
    FILL = "fill"
    TRADING_STATE = "trading_state"
    CASH = "cash"
    BAR = "bar"
    ALERT = "alert"
    RECONCILE = "reconcile"
    EQUITY = "equity"
    CONNECTED = "connected"
    REQUEST = "request"
    REQUEST_HANDLED = "request_handled"
    FEED_STALE = "feed_stale"
    HISTORY_ORIGIN = "history_origin"


def to_utc(value: Any, name: str) -> dt.datetime:
    """``value`` (an aware datetime, any zone) in UTC; a naive one is an error naming ``name``.

    Examples
    --------
    >>> import zoneinfo
    >>> t = dt.datetime(2026, 11, 30, 9, 30, tzinfo=zoneinfo.ZoneInfo("America/New_York"))
    >>> to_utc(t, "time").isoformat()
    '2026-11-30T14:30:00+00:00'
    """
    if not isinstance(value, dt.datetime):
        raise StoreError(f"{name}: expected a time-zone-aware datetime, got {type(value).__name__} {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise StoreError(
            f"{name}: naive datetime {value.isoformat()} has no time zone; pass an aware one "
            "(e.g. datetime.now(datetime.UTC) or ts.tz_localize('America/New_York'))"
        )
    if hasattr(value, "to_pydatetime"):  # pandas Timestamp: drop nanoseconds explicitly
        value = dt.datetime.fromisoformat(value.isoformat(timespec="microseconds"))
    return value.astimezone(UTC)


def utc_now() -> dt.datetime:
    """The current time in UTC."""
    return dt.datetime.now(UTC)


@functools.lru_cache(maxsize=1024)  # a bar's events share a few times: each is formatted once
def iso(value: dt.datetime) -> str:
    """``value`` as ISO-8601 in UTC with microseconds (sortable as text)."""
    return value.astimezone(UTC).isoformat(timespec="microseconds")


@functools.lru_cache(maxsize=1024)  # rows read together share a few times: each is parsed once
def parse_time(text: str, name: str = "time") -> dt.datetime:
    """An ISO-8601 text written by :func:`iso` back to an aware UTC datetime."""
    return to_utc(dt.datetime.fromisoformat(text), name)


def _finite(value: float, name: str) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise StoreError(f"{name}: must be a finite number, got {value!r}")
    return number


_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False, sort_keys=True)  # made once, not per call


def dumps(payload: dict[str, Any]) -> str:
    """A payload as compact JSON (NaN and infinity refused: JSON and PostgreSQL jsonb have neither)."""
    try:
        return _ENCODER.encode(payload)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"event payload is not plain JSON (numbers finite, keys strings): {exc}") from None


def client_order_id(run_name: str, decided_at: dt.datetime, symbol: str, intent_number: int) -> str:
    """The deterministic client order id of one intent: the same inputs always give the same id.

    Examples
    --------
    >>> client_order_id("xmom", dt.datetime(2026, 1, 2, 21, tzinfo=dt.UTC), "AAPL", 0)
    'AAPL-20260102T210000-0-a72e44b1ec'
    """
    stamp = to_utc(decided_at, "decided_at")
    digest = hashlib.sha256(f"{run_name}|{iso(stamp)}|{symbol}|{intent_number}".encode()).hexdigest()[:10]
    return f"{symbol}-{stamp:%Y%m%dT%H%M%S}-{intent_number}-{digest}"


@dataclass(frozen=True)
class OrderIntent:
    """An order qt decided to send, stored before it is sent; ``quantity`` is signed (+ buy, - sell)."""

    client_order_id: str
    run_name: str
    decided_at: dt.datetime
    symbol: str
    quantity: float
    order_type: OrderType = OrderType.MARKET
    limit_price: float | None = None
    intent_number: int = 0

    def __post_init__(self) -> None:
        if not self.client_order_id:
            raise StoreError("OrderIntent.client_order_id: must not be empty")
        object.__setattr__(self, "decided_at", to_utc(self.decided_at, "OrderIntent.decided_at"))
        object.__setattr__(self, "order_type", OrderType(self.order_type))
        quantity = _finite(self.quantity, "OrderIntent.quantity")
        if quantity == 0:
            raise StoreError(f"OrderIntent.quantity: {self.client_order_id} has quantity 0; send no order instead")
        object.__setattr__(self, "quantity", quantity)
        if self.order_type is OrderType.LIMIT and self.limit_price is None:
            raise StoreError(f"OrderIntent.limit_price: limit order {self.client_order_id} needs a limit price")
        if self.limit_price is not None:
            object.__setattr__(self, "limit_price", _finite(self.limit_price, "OrderIntent.limit_price"))

    @property
    def side(self) -> Side:
        """BUY for a positive quantity, SELL for a negative one."""
        return Side.BUY if self.quantity > 0 else Side.SELL

    def to_payload(self) -> dict[str, Any]:
        """The intent as an event payload."""
        return {
            "client_order_id": self.client_order_id,
            "run_name": self.run_name,
            "decided_at": iso(self.decided_at),
            "symbol": self.symbol,
            "quantity": self.quantity,
            "order_type": self.order_type.value,
            "limit_price": self.limit_price,
            "intent_number": self.intent_number,
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> OrderIntent:
        """The intent an event payload holds."""
        return cls(**{**payload, "decided_at": parse_time(payload["decided_at"], "decided_at")})


@dataclass(frozen=True)
class OrderUpdate:
    """A change of an order's life-cycle state, from the venue or from qt (DENIED, NOT_SENT, LOST).

    ``filled`` and ``avg_price`` are what the venue reported; they are kept in the log, while the
    order's own filled quantity is the sum of its recorded fills.
    """

    client_order_id: str
    status: OrderStatus
    time: dt.datetime
    reason: str = ""
    broker_order_id: str | None = None
    filled: float | None = None
    avg_price: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", OrderStatus(self.status))
        object.__setattr__(self, "time", to_utc(self.time, "OrderUpdate.time"))
        if self.broker_order_id is not None:
            object.__setattr__(self, "broker_order_id", str(self.broker_order_id))
        for name in ("filled", "avg_price"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _finite(value, f"OrderUpdate.{name}"))

    def to_payload(self) -> dict[str, Any]:
        """The update as an event payload."""
        return {
            "client_order_id": self.client_order_id,
            "status": self.status.value,
            "time": iso(self.time),
            "reason": self.reason,
            "broker_order_id": self.broker_order_id,
            "filled": self.filled,
            "avg_price": self.avg_price,
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> OrderUpdate:
        """The update an event payload holds."""
        return cls(**{**payload, "time": parse_time(payload["time"])})


@dataclass(frozen=True)
class FillRecord:
    """One execution: ``exec_id`` is unique; ``client_order_id`` is None for external (adopted) fills."""

    exec_id: str
    client_order_id: str | None
    symbol: str
    quantity: float
    price: float
    fees: float
    time: dt.datetime
    source: FillSource = "venue"

    def __post_init__(self) -> None:
        if not self.exec_id:
            raise StoreError("FillRecord.exec_id: must not be empty (it is the deduplication key)")
        if self.source not in ("venue", "external"):
            raise StoreError(f"FillRecord.source: {self.source!r}; choose 'venue' or 'external'")
        object.__setattr__(self, "time", to_utc(self.time, "FillRecord.time"))
        for name in ("quantity", "price", "fees"):
            object.__setattr__(self, name, _finite(getattr(self, name), f"FillRecord.{name}"))
        if self.quantity == 0:
            raise StoreError(f"FillRecord.quantity: fill {self.exec_id} has quantity 0")

    @property
    def cash_flow(self) -> float:
        """What the fill does to cash: ``-(quantity * price + fees)``."""
        return -(self.quantity * self.price + self.fees)

    def to_payload(self) -> dict[str, Any]:
        """The fill as an event payload."""
        return {
            "exec_id": self.exec_id,
            "client_order_id": self.client_order_id,
            "symbol": self.symbol,
            "quantity": self.quantity,
            "price": self.price,
            "fees": self.fees,
            "time": iso(self.time),
            "source": self.source,
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> FillRecord:
        """The fill an event payload holds."""
        return cls(**{**payload, "time": parse_time(payload["time"])})


@dataclass(frozen=True)
class OrderRecord:
    """An order as the snapshot holds it: its intent and where it stands now."""

    intent: OrderIntent
    status: OrderStatus = OrderStatus.NEW
    reason: str = ""
    broker_order_id: str | None = None
    filled: float = 0.0
    avg_price: float | None = None
    updated_at: dt.datetime = field(default_factory=utc_now)

    @property
    def client_order_id(self) -> str:
        """The order's idempotency key."""
        return self.intent.client_order_id

    @property
    def symbol(self) -> str:
        """The instrument."""
        return self.intent.symbol

    @property
    def remaining(self) -> float:
        """Signed quantity still to fill (0 once filled or over-filled)."""
        rest = self.intent.quantity - self.filled
        return rest if rest * self.intent.quantity > 0 else 0.0

    def with_changes(self, **changes: Any) -> OrderRecord:
        """A copy with ``changes`` applied."""
        return replace(self, **changes)


@dataclass(frozen=True)
class Event:
    """One entry of the append-only log: ``seq`` counts from 1 without gaps; ``time`` is UTC.

    ``record`` is the typed journal entry (``qt.live.journal``); ``payload`` its stored JSON form.
    """

    seq: int
    time: dt.datetime
    kind: EventKind
    payload: dict[str, Any]

    @functools.cached_property
    def text(self) -> str:
        """The payload as the log's compact JSON text (the writer sets it: encoded once per event)."""
        return dumps(self.payload)

    @functools.cached_property
    def record(self) -> Any:
        """The typed record this entry holds (decoded once, on first use)."""
        from qt.live.journal import decode

        return decode(self.kind, self.payload)


@dataclass(frozen=True)
class TradingStatus:
    """The persisted trading state, why it was set (for people), its typed cause, and since when."""

    state: TradingState
    reason: str
    since: dt.datetime
    cause: HaltCause = HaltCause.NONE  # the typed cause of the change (qt.live.trading owns the rules)


@dataclass(frozen=True)
class EquityPoint:
    """One point of the equity series a live run records (NAV and cash at ``time``)."""

    seq: int
    time: dt.datetime
    equity: float
    cash: float


@dataclass(frozen=True)
class StoreMeta:
    """Facts about a store: whose it is, since when, and its schema version."""

    kind: str
    location: str
    run_name: str
    created_at: dt.datetime
    schema_version: int
    config_hash: str | None


def trading_status(event: Event | None, created_at: dt.datetime) -> TradingStatus:
    """The trading status a ``trading_state`` event holds (ACTIVE since creation when there is none)."""
    if event is None:
        return TradingStatus(TradingState.ACTIVE, "no trading-state change recorded", created_at)
    change = event.record  # a TradingStateChanged: version-1 stores got their cause when migrated
    return TradingStatus(change.state, change.reason, event.time, change.cause)
