"""Decision-to-last-order latency of a 500-asset meanvar rebalance over IB, against the gateway simulator.

Workload: data=synthetic 500 assets x 600 days, xmom ranking all 500 (quantile 1.0), meanvar over the
500 - the paper benchmark's (benchmarks/live.py) - with ``broker=ib``: qt's IBBroker and the real
ib_async client connected over loopback to ``GatewaySimulator`` running on its own event loop in a
thread (with TWS's 50 messages/s limit switched on). The warm-up history is the panel's own bars
(the IB warm-up request is not what is timed). For each decision bar, the gateway's clock moves to
the bar, then the live driver steps it in-process, as the IB feed would hand it over:

- decision: from the bar's arrival (``driver.step`` called) to the decision made;
- step: to ``driver.step`` returning (intents stored, the first burst written to the socket);
- last order on the wire: to ib_async writing the last PLACE_ORDER to the socket;
- last order at the gateway: to the simulator receiving it.

Target: <= 250 ms to the last order. IB allows 50 messages a second per client (ib_async throttles
itself to 45; qt paces at ``broker.max_messages_per_second``, default 40), so 500 orders cannot
leave in less than ~10 s whatever qt does; the figure to compare with the target is the time to the
last order *handed to the pacer* (what qt controls). Sending 500 orders within 250 ms would need a
venue that accepts one basket message (IB has none for unrelated stocks) or several client
connections (IB counts the limit per client id; 11 clients x 45/s would carry 500 orders in ~1 s).
Run: .venv/bin/python benchmarks/live_ib.py
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

LATENCY = ["strategy=xmom", "portfolio=meanvar", "data=synthetic", "data.n_assets=500", "data.n_days=600",
           "strategy.params.quantile=1.0"]  # fmt: skip
DECISIONS = 3


class GatewayThread:
    """The simulator on its own loop in a thread."""

    def __init__(self, **kwargs: Any) -> None:
        from qt.live.ibsim.simulator import GatewaySimulator

        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.gw = self.call(GatewaySimulator(**kwargs).start())

    def call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(120)

    def stop(self) -> None:
        self.call(self.gw.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)


async def measure(folder: Path) -> list[dict[str, float]]:
    import numpy as np
    from ib_async import IB
    from omegaconf import OmegaConf

    from qt.commands.check import compose
    from qt.engine.components import build_components
    from qt.live.feeds import ReplayFeed
    from qt.live.history import BarRow, History, utc_time
    from qt.live.ib.broker import IBBroker
    from qt.live.ib.config import IBSettings
    from qt.live.ib.connection import IBConnection
    from qt.live.store import SqliteStoreSettings, open_from_settings
    from qt.runs.live import _settings, build_driver

    cfg = compose(["mode=live", "broker=ib", *LATENCY, f"live.state_dir={folder}", "broker.connect_timeout_s=60"])
    parts = build_components(cfg)
    settings = _settings(cfg)
    panel = parts.data.load()
    schedule = np.flatnonzero(parts.strategy.rebalance.schedule(panel.timestamps))
    scores = parts.strategy.scores(panel)
    decisions = [int(t) for t in schedule if np.isfinite(scores[t]).any()][:DECISIONS]
    start = decisions[0]
    gt = GatewayThread(panel=panel, start=start - 1, max_message_rate=50)
    rows = []
    try:
        s = IBSettings.model_validate(
            {k: v for k, v in OmegaConf.to_container(cfg.broker, resolve=True).items() if k != "_target_"}
        ).model_copy(update={"port": gt.gw.port, "client_id": 7})
        store = open_from_settings(SqliteStoreSettings(synchronous="NORMAL"), state_dir=folder, run_name="bench")
        store.deposit(parts.settings.capital, reason="initial capital", time=utc_time(panel.timestamps[start]))
        ib = IB()
        broker = IBBroker(ib=ib, settings=s, symbols=panel.symbols)
        connection = IBConnection(ib=ib, settings=s, broker=broker)
        await connection.open()
        t0 = time.perf_counter()
        await broker.on_connected()
        print(f"qualified {len(panel.symbols)} contracts in {time.perf_counter() - t0:.1f} s (paced)")
        broker.available = True
        history = History.of(panel, start)
        driver = build_driver(parts, settings, store, broker, history, ReplayFeed(panel, start=start),
                              parts.settings.capital)  # fmt: skip
        marks: dict[str, float] = {}
        place = ib.placeOrder

        def on_wire(contract: Any, order: Any) -> Any:
            trade = place(contract, order)
            marks["wire"] = time.perf_counter()
            return trade

        ib.placeOrder = on_wire
        record = driver.session.on_decision

        def decided(out: Any) -> None:
            marks["decided"] = time.perf_counter()
            record(out)

        driver.session.on_decision = decided
        for t in range(start, decisions[-1] + 1):
            gt.call(gt.gw.step(1))
            bar = BarRow(panel.timestamps[t], {f: a[t] for f, a in panel.fields.items()})
            placed_before = len(gt.gw.broker.orders)
            marks.clear()
            arrived, arrived_wall = time.perf_counter(), time.time()
            driver.step(bar)
            stepped = time.perf_counter()
            if t not in decisions:
                continue
            n = len(store.orders()) - sum(int(r["orders"]) for r in rows)
            while broker.pacer.waiting() or len(gt.gw.broker.orders) - placed_before < n:
                await asyncio.sleep(0.005)
            last_at_gw = max(m.time for m in gt.gw.record.placements())
            rows.append({"t": t, "orders": n, "decision_ms": (marks["decided"] - arrived) * 1e3,
                         "step_ms": (stepped - arrived) * 1e3, "wire_ms": (marks["wire"] - arrived) * 1e3,
                         "gateway_ms": (last_at_gw - arrived_wall) * 1e3,
                         "max_rate": gt.gw.record.max_rate(1.0)})  # fmt: skip
            await asyncio.sleep(0.3)  # let the fills arrive before the next bar
        await connection.close()
        store.close()
    finally:
        gt.stop()
    return rows


def main() -> None:
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        rows = asyncio.run(measure(Path(tmp) / "ib"))
    print(f"\nIB latency, {dt.date.today():%Y-%m-%d}, load average {load:.1f} at the start (2 shared cores)")
    print(
        "| decision bar | orders | decision made | step returned | last order on the wire | at the gateway | max msgs/s |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {int(r['t'])} | {int(r['orders'])} | {r['decision_ms']:.0f} ms | {r['step_ms']:.0f} ms | "
              f"{r['wire_ms']:.0f} ms | {r['gateway_ms']:.0f} ms | {int(r['max_rate'])} |")  # fmt: skip
    print(
        f"median decision {statistics.median(r['decision_ms'] for r in rows):.0f} ms; "
        f"median to the last order on the wire {statistics.median(r['wire_ms'] for r in rows):.0f} ms"
    )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parents[1]))
    main()
