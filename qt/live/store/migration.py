"""Older store schemas read into today's journal: each old version's payload shapes decoded once, here.

Version 1 kept bars, decisions, alerts and reconciliations in today's shapes, but had one
``health`` kind with five payload shapes, trading states without a cause, and alerts with loose
details. :func:`upgrade_log` turns a version-1 log into typed journal records and back into
version-2 events (same sequence numbers and times); the store rewrites its log with them,
rebuilds the snapshot and records the new version, all in one transaction.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from qt.enums import HaltCause, TradingState
from qt.live.journal import (
    Alert,
    Connected,
    FeedStale,
    HistoryOrigin,
    OperatorRequest,
    Record,
    Request,
    RequestHandled,
    Severity,
    TradingStateChanged,
    decode,
    encode,
)
from qt.live.store.errors import SchemaVersionError, StoreError
from qt.live.store.records import Event, EventKind, dumps
from qt.risk.stops.base import RiskEvent

V1_ORIGIN_KEY = "ib_history_origin"  # the IB session's first warm-up bar, in a version-1 health event


def v1_cause(state: TradingState, reason: str) -> HaltCause:
    """The cause of a version-1 trading-state change, read from the reason texts qt 1 wrote (migration only).

    Examples
    --------
    >>> v1_cause(TradingState.HALTED, "3 broker rejects in 5 minutes (max_rejects 3)").value
    'broker_rejects'
    >>> v1_cause(TradingState.HALTED, "earnings (halt from the command line by ops)").value
    'operator'
    """
    if "from the command line" in reason:
        return HaltCause.OPERATOR
    if reason.startswith("reconciliation"):
        return HaltCause.RECONCILIATION
    if reason.startswith(("stale data", "fresh data")):
        return HaltCause.STALE_DATA
    if " broker rejects in " in reason:
        return HaltCause.BROKER_REJECTS
    if reason.startswith("daily_loss"):
        return HaltCause.DAILY_LOSS
    if reason.startswith("drawdown_stop"):
        return HaltCause.DRAWDOWN_STOP
    return HaltCause.NONE if state is TradingState.ACTIVE else HaltCause.OPERATOR


def _v1_health(p: Mapping[str, Any]) -> Record:
    if V1_ORIGIN_KEY in p:
        return HistoryOrigin(str(p[V1_ORIGIN_KEY]))
    if "request" in p:
        return OperatorRequest(Request(p["request"]), str(p.get("reason", "")))
    if "handled" in p:
        return RequestHandled(int(p["handled"]), str(p.get("status", "handled")))
    if p.get("status") == "stale":
        return FeedStale(str(p["reason"]))
    if p.get("status") == "connected":
        return Connected(str(p["gateway"]), int(p["server_version"]), bool(p["readonly"]))
    raise KeyError("none of the five health shapes qt 1 wrote")


def _v1_alert(p: Mapping[str, Any]) -> Record:
    extra = set(p) - {"message", "severity", "risk_event", "duplicate"}
    if extra:
        raise KeyError(f"alert details {sorted(extra)} that qt 1 never wrote")
    e = p.get("risk_event")
    risk = None if e is None else RiskEvent(int(e["t"]), str(e["kind"]), str(e["detail"]), float(e["scale"]),
                                             bool(e["halt"]))  # fmt: skip
    return Alert(str(p["message"]), Severity(p.get("severity", "warning")), risk, p.get("duplicate"))


def v1_record(kind: str, payload: Mapping[str, Any]) -> Record:
    """The journal record a version-1 log entry holds."""
    if kind == "health":
        return _v1_health(payload)
    if kind == "alert":
        return _v1_alert(payload)
    if kind == "trading_state":
        state = TradingState(payload["state"])
        return TradingStateChanged(state, str(payload["reason"]), v1_cause(state, str(payload["reason"])))
    return decode(EventKind(kind), payload)


def upgrade_log(location: str, version: int, raw: list[tuple[int, dt.datetime, str, dict[str, Any]]]) -> list[Event]:
    """A version-``version`` log as version-2 events (same sequence numbers and times)."""
    if version != 1:
        raise SchemaVersionError(f"live state store at {location}: no migration from schema version {version}")
    events = []
    for seq, time, kind, payload in raw:
        try:
            record = v1_record(kind, payload)
        except (StoreError, KeyError, TypeError, ValueError) as exc:
            raise SchemaVersionError(
                f"live state store at {location} (schema version 1) cannot be migrated: event {seq} ({kind}) "
                f"{dict(payload)!r:.200} is not one qt 1 wrote ({exc}); qt wrote nothing to it: use the qt "
                "that wrote it, or start a new state folder"
            ) from None
        new_kind, new_payload = encode(record)
        event = Event(int(seq), time, new_kind, json.loads(dumps(new_payload)))
        event.__dict__["record"] = record
        events.append(event)
    return events
