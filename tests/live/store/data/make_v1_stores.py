"""How the schema-version-1 store fixtures were made: qt 1's own store code writes them (run once, by hand).

    git archive 82c42fc qt | tar -x -C /tmp/qt_v1      # the last commit with store schema version 1
    python tests/live/store/data/make_v1_stores.py /tmp/qt_v1 postgresql://127.0.0.1/test redis://127.0.0.1:6379/0

writes ``v1_state.sqlite`` (the file qt 1 wrote) and ``v1_postgres.json`` / ``v1_redis.json`` (every row
or key qt 1 wrote, raw) beside this script. The events are the shapes qt 1's driver, recovery, IB
session, paper broker and ``qt live`` wrote: the five health shapes, trading states without a cause,
alerts with a risk event or a duplicate order, a decision with a refused batch, a bar with fills.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
T0 = dt.datetime(2026, 1, 2, 21, 0, tzinfo=dt.UTC)
SCHEMA = "qt_v1_fixture"
PREFIX = "qt:v1:fixture"


def t(minutes: int) -> dt.datetime:
    """T0 plus some minutes."""
    return T0 + dt.timedelta(minutes=minutes)


def write_v1(store: Any) -> None:
    """Every kind of event qt 1 wrote, through qt 1's store API."""
    from qt.enums import OrderStatus, TradingState
    from qt.live.store import EventKind, FillRecord, OrderIntent, OrderUpdate

    batch = {"decided_at": 3, "filled_at": 3, "assets": [0, 1], "quantities": [10.0, -4.0],
             "status": ["filled", "rejected"], "prices": [101.5, 0.0], "fees": [1.25, 0.0],
             "reasons": ["", "201: no shorting"]}  # fmt: skip
    store.deposit(100_000.0, reason="initial capital", time=t(0))
    store.record_event(EventKind.HEALTH, {"status": "connected", "gateway": "127.0.0.1:4002",
                                          "server_version": 178, "readonly": False}, time=t(0))  # fmt: skip
    store.record_event(EventKind.HEALTH, {"ib_history_origin": "2025-01-02T00:00:00.000000"}, time=t(0))
    store.record_event("reconcile", {"fills_booked": 0, "not_sent": [], "reattached": [], "foreign": ["FOREIGN-7"],
                                     "breaks": {}, "adopted": False}, time=t(0))  # fmt: skip
    store.record_alert("foreign order FOREIGN-7 at the broker: reported, left alone", time=t(0))
    store.record_decision({"t": 3, "before": [0.0, 0.0], "target": [0.5, -0.25], "risk": {"var": 0.0125, "cvar": None},
                           "report": {"status": "optimal", "solver": "CLARABEL", "steps": ["clip"]},
                           "orders": {"assets": [0, 1], "quantities": [10.0, -4.0], "notes": ["", "max position"]},
                           "refused": batch}, time=t(1))  # fmt: skip
    store.record_intent(OrderIntent("AAPL-1", "v1-run", t(1), "AAPL", 10.0, intent_number=0))
    store.record_intent(OrderIntent("MSFT-1", "v1-run", t(1), "MSFT", -4.0, intent_number=1))
    store.record_order_update(OrderUpdate("AAPL-1", OrderStatus.SUBMITTED, t(1), broker_order_id="7"))
    store.record_order_update(OrderUpdate("MSFT-1", OrderStatus.REJECTED, t(1), reason="201: no shorting"))
    store.record_fill(FillRecord("exec-1", "AAPL-1", "AAPL", 10.0, 101.5, 1.25, t(2)))
    store.record_bar({"t": 3, "nav": 99_998.75, "cash": 98_983.75, "gross": 1_015.0, "net": 1_015.0,
                      "traded": 1_015.0, "fills": [batch], "peak": 100_000.0, "resume_at": None}, time=t(2))  # fmt: skip
    store.record_equity(99_998.75, 98_983.75, time=t(2))
    store.record_alert(
        "drawdown_stop: drawdown 12.0% beyond 10.0%",
        time=t(3),
        details={
            "risk_event": {
                "t": 4,
                "kind": "drawdown_stop",
                "detail": "drawdown 12.0% beyond 10.0%",
                "scale": 0.0,
                "halt": True,
            }
        },
    )
    store.set_trading_state(TradingState.HALTED, "drawdown_stop: drawdown 12.0% beyond 10.0%", time=t(3))
    store.set_trading_state(TradingState.ACTIVE, "trading resumes", time=t(4))
    store.set_trading_state(TradingState.REDUCING, "flatten from the command line by ops", time=t(5))
    request = store.record_event(
        EventKind.HEALTH, {"request": "flatten", "reason": "flatten from the command line by ops"}, time=t(5)
    )
    store.record_event(EventKind.HEALTH, {"status": "flatten routed", "handled": request.seq}, time=t(6))
    store.record_event(EventKind.HEALTH, {"status": "stale", "reason": "stale data: no bar within 5 s"}, time=t(7))
    store.set_trading_state(TradingState.HALTED, "stale data: no bar within 5 s", time=t(7))
    store.record_alert("stale data: no bar within 5 s: no new decision until bars arrive again", severity="critical",
                       time=t(7))  # fmt: skip
    store.record_alert("duplicate client order id AAPL-1: refused", severity="critical",
                       details={"duplicate": "AAPL-1"}, time=t(8))  # fmt: skip
    store.set_trading_state(TradingState.HALTED, "3 broker rejects in 5 minutes (max_rejects 3)", time=t(9))
    store.record_event("reconcile", {"fills_booked": 1, "not_sent": ["MSFT-2"], "reattached": [], "foreign": [],
                                     "breaks": {"AAPL": [10.0, 12.0]}, "adopted": False}, time=t(10))  # fmt: skip
    assert store.integrity_check() == [], store.integrity_check()


def main() -> None:
    """Write the three fixtures with qt 1's code (the folder given first)."""
    old, dsn, url = sys.argv[1:4]
    sys.path.insert(0, old)
    from qt.live.store import open_store

    assert "qt_v1" in __import__("qt").__file__ or old in __import__("qt").__file__
    with tempfile.TemporaryDirectory() as folder:
        with open_store("sqlite", state_dir=folder, run_name="v1-run") as store:
            write_v1(store)
        shutil.copyfile(Path(folder) / "state.sqlite", HERE / "v1_state.sqlite")
    with open_store("postgres", dsn=dsn, namespace=SCHEMA, run_name="v1-run") as store:
        write_v1(store)
        dump = {}
        for table in ("meta", "events", "orders", "positions", "cash", "fills", "latest", "alerts", "equity"):
            cur = store._conn.execute(f"SELECT * FROM {table}")  # type: ignore[attr-defined]
            names = [c.name for c in cur.description]
            dump[table] = [dict(zip(names, [v.isoformat() if isinstance(v, dt.datetime) else v for v in row],
                                    strict=True)) for row in cur.fetchall()]  # fmt: skip
        (HERE / "v1_postgres.json").write_text(json.dumps(dump, indent=1, sort_keys=True) + "\n")
        store.drop()  # type: ignore[attr-defined]
    with open_store("redis", url=url, namespace=PREFIX, run_name="v1-run") as store:
        write_v1(store)
        r = store._r  # type: ignore[attr-defined]
        keys: dict[str, Any] = {}
        for key in sorted(r.scan_iter(match=f"{PREFIX}:*")):
            kind = r.type(key)
            value = {"string": r.get, "hash": r.hgetall, "list": lambda k: r.lrange(k, 0, -1)}[kind](key)
            keys[key[len(PREFIX) + 1 :]] = {"type": kind, "value": value}
        (HERE / "v1_redis.json").write_text(json.dumps(keys, indent=1, sort_keys=True) + "\n")
        store.drop()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
