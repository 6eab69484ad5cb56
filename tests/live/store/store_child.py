"""A second process for the live-store tests: writes bursts, halts, or writes bars on a shared store.

Usage: python store_child.py '{"spec": {...}, "task": "burst"|"held_burst"|"halt"|"bars"|"open", ...}' ("open" only opens
the store of ``run_name``, migrating an old one). ``QT_FAULT`` in the
environment makes the store SIGKILL this process at a chosen write.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Any

from qt.enums import HaltCause, OrderStatus, TradingState
from qt.live.journal import BarRecorded
from qt.live.store import EventKind, FillRecord, LiveStore, OrderIntent, OrderUpdate, open_from_settings, open_state_dir
from qt.live.store.settings import PostgresStoreSettings, RedisStoreSettings, SqliteStoreSettings

T0 = dt.datetime(2026, 1, 2, 21, 0, tzinfo=dt.UTC)

SYMBOLS = ("AAPL", "MSFT", "TSLA")


def writer_bar(writer: str, i: int) -> BarRecorded:
    """Bar ``i`` of a test writer (its NAV says which writer wrote it)."""
    return BarRecorded(i, float(ord(writer[0])), 0.0, 0.0, 0.0, 0.0)


def settings_of(spec: dict[str, Any]) -> SqliteStoreSettings | PostgresStoreSettings | RedisStoreSettings:
    """The settings model a spec describes (short timeouts; Redis lock TTL of 1 s so killed writers clear fast)."""
    if spec["kind"] == "sqlite":
        return SqliteStoreSettings(busy_timeout_s=20)
    if spec["kind"] == "postgres":
        return PostgresStoreSettings(dsn=spec["dsn"], namespace=spec["namespace"], statement_timeout_s=20)
    return RedisStoreSettings(url=spec["url"], namespace=spec["namespace"], lock_ttl_s=1.0, socket_timeout_s=20)


def burst_fill(i: int) -> tuple[str, float, float]:
    """Symbol, signed quantity and price of round ``i`` of a burst (the parent recomputes these)."""
    return SYMBOLS[i % 3], float((i + 1) * (1 if i % 2 == 0 else -1)), 100.0 + i


def burst(store: LiveStore, rounds: int) -> None:
    """Write (at most) 1 + 3 * rounds events: a deposit, then per round an intent, a SUBMITTED update and a fill."""
    if not store.events(kinds=[EventKind.CASH]):  # a restarted burst deposits once
        store.deposit(100_000.0, reason="initial capital", time=T0)
    for i in range(rounds):
        burst_round(store, i)


def burst_round(store: LiveStore, i: int) -> None:
    """Round ``i`` of a burst: an intent, its SUBMITTED update and its fill."""
    symbol, qty, price = burst_fill(i)
    at = T0 + dt.timedelta(minutes=i)
    coid = f"burst-{i}"
    store.record_intent(OrderIntent(coid, "test-run", at, symbol, qty, intent_number=i))
    store.record_order_update(OrderUpdate(coid, OrderStatus.SUBMITTED, at, broker_order_id=str(100 + i)))
    store.record_fill(FillRecord(f"exec-{i}", coid, symbol, qty, price, 1.0, at))


def held_burst(store: LiveStore, rounds: int, sync_every: int) -> None:
    """A burst whose rounds are held (group commit) and synced after every ``sync_every`` rounds."""
    store.deposit(100_000.0, reason="initial capital", time=T0)
    store.hold()
    for i in range(rounds):
        burst_round(store, i)
        if (i + 1) % sync_every == 0:
            store.sync()
    store.release()


def main() -> None:
    """Run the task the JSON argument names."""
    args = json.loads(sys.argv[1])
    spec = args["spec"]
    if args["task"] == "halt":
        with open_state_dir(spec["state_dir"], timeout_s=20) as store:
            store.set_trading_state(
                TradingState.HALTED, args.get("reason", "halt from another process"), cause=HaltCause.OPERATOR
            )
        return
    run_name = args.get("run_name", "test-run")
    with open_from_settings(settings_of(spec), state_dir=spec["state_dir"], run_name=run_name) as store:
        if args["task"] == "burst":
            burst(store, int(args["rounds"]))
        elif args["task"] == "held_burst":
            held_burst(store, int(args["rounds"]), int(args["sync_every"]))
        elif args["task"] == "bars":
            for i in range(int(args["count"])):
                store.record_bar(writer_bar(str(args["writer"]), i), time=T0 + dt.timedelta(seconds=i))
        print(json.dumps({"events": len(store.events())}))


if __name__ == "__main__":
    main()
