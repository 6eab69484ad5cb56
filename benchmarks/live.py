"""Speed of live mode on the paper broker: a full-history replay against its backtest, and one rebalance's latency.

1. Replay: `qt run mode=live broker=paper strategy=xmom portfolio=meanvar live.speed=max` over the
   bundled sample (20 assets x 8,313 days) against `qt run` of the same config; wall and CPU time of
   each whole process (startup, data, the run, the result files) and each run's own time (its
   manifest's ``total_s``), best of REPEAT. Targets: the run itself <= 3x the backtest's, the whole
   process <= 2x. It also counts the durable writes of the replay (events in qt's store and in the
   paper broker's book, transactions per order and per bar), which do not depend on the machine.
2. Latency: data=synthetic 500 assets x 600 days, xmom ranking all 500, meanvar over the 500 (and
   the same with every weight capped at 0.4%: ~275 orders a rebalance): the live driver stepped
   in-process bar by bar, as the feed would; for each decision bar, the time from the bar's arrival
   (``driver.step`` called) to the last order placed at the paper broker (target <= 250 ms), split
   into the decision (features, portfolio, sizing) and routing (guard, intents stored, the burst
   sent and filled, acknowledgements stored). A cProfile of one decision bar prints where the time goes.

Run: .venv/bin/python benchmarks/live.py             (both, writes the live section of benchmarks/README.md)
     .venv/bin/python benchmarks/live.py --smoke     (tiny sizes, one repeat, README untouched: checks the script)
     .venv/bin/python benchmarks/live.py --only replay|latency
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import os
import pstats
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from readme_section import write_section

QT = [sys.executable, "-m", "qt"]
REPLAY = ["strategy=xmom", "portfolio=meanvar"]
LATENCY = ["strategy=xmom", "portfolio=meanvar", "data=synthetic", "data.n_assets=500", "data.n_days=600",
           "strategy.params.quantile=1.0"]  # fmt: skip
# The same with every weight capped at 0.4%: at least 250 names held, a few hundred orders per rebalance.
CAPPED = [*LATENCY, "constraints=long_only_capped", "constraints.max_weight=0.004"]
# --smoke: the same code paths on sizes that run in seconds
SMOKE_REPLAY = [*REPLAY, "data=synthetic", "data.n_assets=10", "data.n_days=300"]
SMOKE_LATENCY = [*LATENCY[:2], "data=synthetic", "data.n_assets=40", "data.n_days=300", "strategy.params.quantile=1.0"]
SMOKE_CAPPED = [*SMOKE_LATENCY, "constraints=long_only_capped", "constraints.max_weight=0.05"]


def timed(cmd: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=Path(__file__).parents[1])
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def replay(folder: Path, overrides: list[str], repeat: int) -> dict[str, float]:
    """Best-of-``repeat`` wall, CPU and run time of the backtest and of the paper replay (a new state folder each)."""
    runs: dict[str, list[tuple[float, float, float]]] = {"backtest": [], "paper": []}
    for i in range(repeat):
        wall, cpu = timed([*QT, "run", *overrides, f"hydra.run.dir={folder}/bt{i}"])
        runs["backtest"].append((wall, cpu, _run_seconds(folder / f"bt{i}")))
        wall, cpu = timed([*QT, "run", "mode=live", "broker=paper", *overrides, "live.speed=max",
                           f"live.state_dir={folder}/paper{i}", f"hydra.run.dir={folder}/h{i}"])  # fmt: skip
        runs["paper"].append((wall, cpu, _run_seconds(folder / f"paper{i}")))
    out: dict[str, float] = {}
    for name, figures in runs.items():
        out[f"{name}_wall"] = min(f[0] for f in figures)
        out[f"{name}_cpu"] = min(f[1] for f in figures)
        out[f"{name}_run"] = min(f[2] for f in figures)
    return out | writes(folder / "paper0")


def _run_seconds(folder: Path) -> float:
    """The run's own time as its manifest records it (after startup: data, the run, the result files)."""
    return float(json.loads((folder / "manifest.json").read_text())["timings"]["total_s"])


def writes(state: Path) -> dict[str, float]:
    """Durable writes of a paper replay, read from its two SQLite files: events and (upper bound) transactions.

    Every event is one log row plus its snapshot rows; a transaction is one commit (a WAL sync point).
    """
    out: dict[str, float] = {}
    for name, path in (("store", state / "state.sqlite"), ("book", state / "paper-broker" / "state.sqlite")):
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            kinds = dict(db.execute("SELECT kind, COUNT(*) FROM events GROUP BY kind").fetchall())
        out[f"{name}_events"] = float(sum(kinds.values()))
        for kind, n in kinds.items():
            out[f"{name}_{kind}"] = float(n)
    return out


def driver_for(folder: Path, overrides: list[str]) -> tuple[Any, Any, Any, list[int]]:
    """(driver, broker, panel, decision bars) for the latency workload, warmed up to just before its first decision."""
    import numpy as np

    from qt.commands.check import compose
    from qt.engine.components import build_components
    from qt.live.feeds import ReplayFeed
    from qt.live.history import History, utc_time
    from qt.live.node import build_driver
    from qt.live.paper.broker import PaperBroker
    from qt.live.store import SqliteStoreSettings, open_from_settings
    from qt.runs.live import _settings

    cfg = compose(["mode=live", "broker=paper", *overrides, f"live.state_dir={folder}"])
    parts = build_components(cfg)
    settings = _settings(cfg)
    panel = parts.data.load()
    schedule = np.flatnonzero(parts.strategy.rebalance.schedule(panel.timestamps))
    scores = parts.strategy.scores(panel)
    decisions = [int(t) for t in schedule if np.isfinite(scores[t]).any()]
    start = decisions[0]
    store = open_from_settings(SqliteStoreSettings(synchronous="NORMAL"), state_dir=folder, run_name="bench")
    store.deposit(parts.settings.capital, reason="initial capital", time=utc_time(panel.timestamps[start]))
    broker = PaperBroker.open(execution=parts.execution, symbols=panel.symbols, state_dir=folder,
                              capital=parts.settings.capital, run_name="bench")  # fmt: skip
    history = History.of(panel, start)
    feed = ReplayFeed(panel, start=start)
    driver = build_driver(parts, settings, store, broker, history, feed, parts.settings.capital, market_clock=True,
                          on_bar=broker.on_bar)  # fmt: skip
    return driver, broker, panel, decisions


def latency(folder: Path, overrides: list[str], n_decisions: int = 5) -> dict[str, Any]:
    """Per decision bar: arrival -> decision made -> last order placed (ms), orders placed; a profile of one."""
    from qt.live.history import BarRow

    driver, broker, panel, decisions = driver_for(folder, overrides)
    marks: dict[str, float] = {}
    place_many = broker.place_many

    def placing(orders: Any) -> Any:  # the router sends a decision's burst in one call
        started = time.perf_counter()
        refused = place_many(orders)
        marks["last_place"] = time.perf_counter()
        marks["orders"] = marks.get("orders", 0) + len(orders)
        marks["at_broker"] = marks.get("at_broker", 0.0) + marks["last_place"] - started
        return refused

    broker.place_many = placing
    record = driver.session.on_decision

    def decided(out: Any) -> None:
        marks["decided"] = time.perf_counter()
        record(out)

    driver.session.on_decision = decided  # instrumentation only: the decision is recorded as the driver would
    rows: list[dict[str, float]] = []
    profile = cProfile.Profile()
    profiled = decisions[2] if len(decisions) > 2 else decisions[-1]
    last = decisions[n_decisions - 1] + 1 if len(decisions) >= n_decisions else panel.n_bars
    for t in range(decisions[0], min(last, panel.n_bars)):
        bar = BarRow(panel.timestamps[t], {f: a[t] for f, a in panel.fields.items()})
        marks.clear()
        if t == profiled:
            profile.enable()
        arrived = time.perf_counter()
        driver.step(bar)
        done = time.perf_counter()
        if t == profiled:
            profile.disable()
        if t in decisions and "last_place" in marks:
            rows.append({"t": t, "orders": marks["orders"], "decision_ms": (marks["decided"] - arrived) * 1e3,
                         "to_last_order_ms": (marks["last_place"] - arrived) * 1e3,
                         "at_broker_ms": marks["at_broker"] * 1e3,
                         "step_ms": (done - arrived) * 1e3})  # fmt: skip
    driver.store.close()
    broker.close()
    stats = pstats.Stats(profile)
    stats.sort_stats("cumulative")
    return {"rows": rows, "profile": stats}


def main() -> None:
    """Measure, print the profiles, and (unless --smoke) rewrite the live section of benchmarks/README.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one repeat; README untouched")
    parser.add_argument("--only", choices=["replay", "latency"], help="measure one of the two")
    parser.add_argument("--repeat", type=int, default=3, help="replay processes per kind (best of)")
    args = parser.parse_args()
    repeat = 1 if args.smoke else args.repeat
    load = os.getloadavg()[0]
    lat = capped = rep = None
    with tempfile.TemporaryDirectory() as tmp:
        if args.only in (None, "latency"):
            lat = latency(Path(tmp) / "latency", SMOKE_LATENCY if args.smoke else LATENCY)
            capped = latency(Path(tmp) / "capped", SMOKE_CAPPED if args.smoke else CAPPED)
            for name, result in (("meanvar", lat), ("meanvar, max_weight cap", capped)):
                print(f"== {name}: profile of one decision bar")
                result["profile"].print_stats(25)
                for row in result["rows"]:
                    print({k: round(v, 1) for k, v in row.items()})
        if args.only in (None, "replay"):
            rep = replay(Path(tmp), SMOKE_REPLAY if args.smoke else REPLAY, repeat)
            print({k: round(v, 3) for k, v in rep.items()})
    print(f"load average at the start: {load:.1f}")
    if args.smoke or rep is None or lat is None or capped is None:
        return
    write_section("live", readme(rep, lat, capped, load, repeat))


def readme(rep: dict[str, float], lat: dict[str, Any], capped: dict[str, Any], load: float, repeat: int) -> str:
    """The live section of benchmarks/README.md."""
    orders = rep.get("store_intent", 0.0)
    bars = rep.get("store_bar", 0.0)
    lines = [
        "## Live, paper broker (`benchmarks/live.py`)",
        "",
        f"Measured {dt.date.today():%Y-%m-%d} (load average {load:.1f} at the start; 2 cores).",
        "",
        "Full-history replay: the bundled sample (20 assets x 8,313 days), xmom + meanvar, whole `qt run` processes,",
        f"best of {repeat}. Targets: the run itself (manifest `total_s`) <= 3x the backtest's, the whole process <= 2x.",
        "",
        "| run | process wall | process CPU | the run itself (manifest `total_s`) |",
        "|---|---:|---:|---:|",
        f"| `qt run` (backtest) | {rep['backtest_wall']:.1f} s | {rep['backtest_cpu']:.1f} s "
        f"| {rep['backtest_run']:.2f} s |",
        f"| `qt run mode=live broker=paper live.speed=max` | {rep['paper_wall']:.1f} s | {rep['paper_cpu']:.1f} s "
        f"| {rep['paper_run']:.2f} s |",
        f"| ratio | {rep['paper_wall'] / rep['backtest_wall']:.1f}x | {rep['paper_cpu'] / rep['backtest_cpu']:.1f}x "
        f"| {rep['paper_run'] / rep['backtest_run']:.1f}x |",
        "",
        f"Durable writes of the replay ({orders:,.0f} orders, {bars:,.0f} bars), counted from its two SQLite files:",
        f"qt's store {rep['store_events']:,.0f} events, the paper broker's book {rep['book_events']:,.0f}. Per order:",
        "its intent (committed, with the rest of its decision's intents, before the burst is sent), its",
        "acknowledgement (one transaction per burst) and its fill in qt's store; the order and its fill in the",
        "book, the whole burst in one transaction (`Broker.place_many`). Per bar: one event (its NAV and cash);",
        "a full-speed replay commits its writes in groups (`store.hold`/`sync`: at least every 0.2 s, before any",
        "order or cancel reaches the broker, and at the end of every bar the broker acted at).",
        "",
        "Decision-to-last-order latency: synthetic 500 assets x 600 days, xmom ranking all 500, meanvar over 500,",
        "the live driver stepped in-process; from the bar's arrival to the last order placed at the paper broker",
        "(which fills it at the close and books it in its own store). Target: <= 250 ms.",
        "",
        "| workload | decision bar | orders | decision made | last order placed | of which in the paper broker "
        "| routing per order | whole bar step |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, result in (("meanvar", lat), ("meanvar, max_weight 0.4%", capped)):
        for r in result["rows"]:
            routing = (r["to_last_order_ms"] - r["decision_ms"]) / r["orders"]
            lines.append(f"| {name} | {int(r['t'])} | {int(r['orders'])} | {r['decision_ms']:.0f} ms | "
                         f"{r['to_last_order_ms']:.0f} ms | {r['at_broker_ms']:.0f} ms | {routing:.2f} ms "
                         f"| {r['step_ms']:.0f} ms |")  # fmt: skip
    rows = lat["rows"][1:] or lat["rows"]  # the first decision builds the book from cash
    med = statistics.median(r["to_last_order_ms"] for r in rows)
    med_capped = statistics.median(r["to_last_order_ms"] for r in capped["rows"][1:] or capped["rows"])
    lines += ["", f"Median over the rebalances after the first (which builds the book from cash): {med:.0f} ms to the "
              f"last order for meanvar, {med_capped:.0f} ms with the 0.4% cap.",
              "",
              "Where the time goes: the script prints a cProfile of one decision bar."]  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    main()
