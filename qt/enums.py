"""Enumerations shared across qt: the fixed vocabularies configs and outputs use."""

from __future__ import annotations

from enum import StrEnum


class Side(StrEnum):
    """Direction of an order or fill."""

    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    """How an order is priced."""

    MARKET = "market"
    LIMIT = "limit"


class OrderStatus(StrEnum):
    """Life-cycle state of an order; every state but FILLED carries a reason in the outputs.

    REJECTED is a refusal by the venue (the broker, or the simulator); DENIED is qt's own
    refusal before anything was sent. NOT_SENT marks an intent found unsent after a crash;
    LOST an order the venue never acknowledged.
    """

    NEW = "new"
    SUBMITTED = "submitted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    DENIED = "denied"
    EXPIRED = "expired"
    NOT_SENT = "not_sent"
    LOST = "lost"

    @property
    def is_open(self) -> bool:
        """Whether the order may still fill."""
        return self in (OrderStatus.NEW, OrderStatus.SUBMITTED, OrderStatus.PARTIALLY_FILLED)


class RunMode(StrEnum):
    """What ``qt run`` drives: a backtest over historical bars, or the same components live (``mode=live``)."""

    BACKTEST = "backtest"
    LIVE = "live"


class TradingState(StrEnum):
    """Whether a session may trade: ACTIVE trades, REDUCING only shrinks positions, HALTED sends nothing but cancels."""

    ACTIVE = "active"
    REDUCING = "reducing"
    HALTED = "halted"


class HaltCause(StrEnum):
    """Why trading left ACTIVE (or came back): each cause has its own resume rule (docs/live.md)."""

    NONE = "none"  # ACTIVE with nothing pending
    DRAWDOWN_STOP = "drawdown_stop"  # a post-trade stop; resumes after its resume_after bars
    DAILY_LOSS = "daily_loss"  # the daily-loss limit; resumes by the operator (qt live resume)
    STALE_DATA = "stale_data"  # no bar within live.guard.stale_after_s; resumes when bars arrive again
    BROKER_REJECTS = "broker_rejects"  # K rejects in M minutes; resumes by the operator
    RECONCILIATION = "reconciliation"  # positions differ from the broker's; resumes by the operator or adoption
    OPERATOR = "operator"  # qt live halt / resume / flatten from another process


class Field(StrEnum):
    """A bar field; every field of a panel is a [T x N] float64 array."""

    OPEN = "open"
    HIGH = "high"
    LOW = "low"
    CLOSE = "close"
    VOLUME = "volume"


class FillTiming(StrEnum):
    """When an order decided at bar t is filled."""

    CLOSE = "close"  # at the decision bar's close
    NEXT_OPEN = "next_open"  # at the next bar's open


class Frequency(StrEnum):
    """Calendar frequency of decision dates."""

    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
