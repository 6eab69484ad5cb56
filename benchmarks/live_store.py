"""Speed of the live state store: one durable write, a 500-order rebalance, and an integrity check.

Per backend (SQLite FULL and NORMAL, PostgreSQL, Redis on 127.0.0.1): 2,000 bar events written one
transaction each; a 500-asset rebalance (500 intents, then 500 SUBMITTED updates, then 500 fills)
written one transaction per event and again with ``store.batch()`` per step; then
``integrity_check()`` (replay of the whole log and comparison with the snapshot).
Run: .venv/bin/python benchmarks/live_store.py
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from readme_section import write_section

from qt.enums import OrderStatus
from qt.live.journal import BarRecorded
from qt.live.store import FillRecord, LiveStore, OrderIntent, OrderUpdate, open_from_settings
from qt.live.store.settings import PostgresStoreSettings, RedisStoreSettings, SqliteStoreSettings
from qt.testing.services import POSTGRES, REDIS, reachable

T0 = dt.datetime(2026, 1, 2, 21, tzinfo=dt.UTC)
N_BARS, N_ASSETS = 2_000, 500


def rebalance(store: LiveStore, tag: str, batched: bool) -> float:
    """Seconds to store 500 intents, 500 acknowledgements and 500 fills."""
    intents = [OrderIntent(f"{tag}-{i}", "bench", T0, f"S{i:03d}", 10 + i, intent_number=i) for i in range(N_ASSETS)]
    started = time.perf_counter()
    steps = [
        [lambda i=i: store.record_intent(i) for i in intents],
        [
            lambda i=i: store.record_order_update(OrderUpdate(i.client_order_id, OrderStatus.SUBMITTED, T0))
            for i in intents
        ],
        [
            lambda i=i: store.record_fill(
                FillRecord(f"x-{i.client_order_id}", i.client_order_id, i.symbol, i.quantity, 100.0, 0.5, T0)
            )
            for i in intents
        ],
    ]
    for step in steps:
        if batched:
            with store.batch():
                for write in step:
                    write()
        else:
            for write in step:
                write()
    return time.perf_counter() - started


def measure(name: str, store: LiveStore) -> dict[str, float]:
    """The figures of one backend."""
    started = time.perf_counter()
    for i in range(N_BARS):
        store.record_bar(BarRecorded(i, 1e6, 1e6, 0.0, 0.0, 0.0), time=T0 + dt.timedelta(seconds=i))
    per_write = (time.perf_counter() - started) / N_BARS
    single = rebalance(store, "single", batched=False)
    batched = rebalance(store, "batched", batched=True)
    started = time.perf_counter()
    problems = store.integrity_check()
    check = time.perf_counter() - started
    assert problems == [], problems
    return {"write_ms": per_write * 1e3, "single_s": single, "batched_s": batched, "check_s": check,
            "events": float(len(store.events()))}  # fmt: skip


def main() -> None:
    """Measure each reachable backend and rewrite the live_store section of benchmarks/README.md."""
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        backends: list[tuple[str, object]] = [
            ("SQLite, synchronous=FULL (default)", SqliteStoreSettings(path=f"{folder}/full.sqlite")),
            ("SQLite, synchronous=NORMAL", SqliteStoreSettings(path=f"{folder}/normal.sqlite", synchronous="NORMAL")),
        ]
        tag = uuid.uuid4().hex[:8]
        if reachable(POSTGRES):
            dsn = "postgresql://postgres@127.0.0.1:5432/test"
            backends.append(("PostgreSQL 127.0.0.1", PostgresStoreSettings(dsn=dsn, namespace=f"qt_bench_{tag}")))  # type: ignore[arg-type]
        if reachable(REDIS):
            url = "redis://127.0.0.1:6379/0"
            backends.append(("Redis 127.0.0.1", RedisStoreSettings(url=url, namespace=f"qt:bench:{tag}")))  # type: ignore[arg-type]
        for name, settings in backends:
            store = open_from_settings(settings, state_dir=None, run_name="bench")  # type: ignore[arg-type]
            try:
                figures = measure(name, store)
            finally:
                drop = getattr(store, "drop", None)
                if drop is not None:
                    drop()
                store.close()
            rows.append((name, figures))
            print(name, {k: round(v, 4) for k, v in figures.items()})
    lines = [
        "## Live state store (`benchmarks/live_store.py`)",
        "",
        f"One write = one transaction appending an event and updating the snapshot. Rebalance = {N_ASSETS} intents,",
        f"{N_ASSETS} acknowledgements and {N_ASSETS} fills; batched = one transaction per step (`store.batch()`).",
        f"Integrity check = replay of the whole log ({int(rows[0][1]['events']):,} events) against the snapshot.",
        f"Measured {dt.date.today():%Y-%m-%d} on 2 shared cores (load average {os.getloadavg()[0]:.1f}: FULL and",
        "PostgreSQL wait for an fsync per commit, which a busy disk makes slow; NORMAL does not).",
        "",
        "| backend | one write | rebalance, one txn per event | rebalance, batched | integrity check |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, f in rows:
        lines.append(
            f"| {name} | {f['write_ms']:.2f} ms | {f['single_s'] * 1e3:.0f} ms | {f['batched_s'] * 1e3:.0f} ms "
            f"| {f['check_s']:.2f} s |"
        )
    write_section("live_store", "\n".join(lines))


if __name__ == "__main__":
    main()
