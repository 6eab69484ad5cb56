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
    """Life-cycle state of an order; CANCELLED carries a reason in the outputs."""

    NEW = "new"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


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
