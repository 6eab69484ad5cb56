"""Speed of live mode on the paper broker: a full-history replay against its backtest, and one rebalance's latency.

1. Replay: `qt run mode=live broker=paper strategy=xmom portfolio=meanvar live.speed=max` over the
   bundled sample (20 assets x 8,313 days) against `qt run` of the same config; wall and CPU time
   of each whole process (startup, data, the run, the result files), best of REPEAT (target <= 5x).
2. Latency: data=synthetic 500 assets x 600 days, xmom with every asset ranked (quantile 1.0) and
   meanvar over the 500: the live driver stepped in-process bar by bar, as the feed would; for each
   decision bar, the time from the bar's arrival (``driver.step`` called) to the last order placed
   at the paper broker (target <= 250 ms), split into decision (features, portfolio, sizing) and
   routing (guard, intents stored, orders sent and filled, acknowledgements stored).
   A cProfile of one decision bar prints where the time goes.
Run: .venv/bin/python benchmarks/live.py
"""

from __future__ import annotations

import cProfile
import datetime as dt
import os
import pstats
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from readme_section import write_section

REPEAT = 3
QT = [sys.executable, "-m", "qt"]
REPLAY = ["strategy=xmom", "portfolio=meanvar"]
LATENCY = ["strategy=xmom", "portfolio=meanvar", "data=synthetic", "data.n_assets=500", "data.n_days=600",
           "strategy.params.quantile=1.0"]  # fmt: skip
# The same with every weight capped at 0.4%: at least 250 names held, a few hundred orders per rebalance.
CAPPED = [*LATENCY, "constraints=long_only_capped", "constraints.max_weight=0.004"]


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


def replay(folder: Path) -> dict[str, float]:
    """Best-of-REPEAT wall and CPU of the backtest and of the paper replay (a new state folder each time)."""
    runs: dict[str, list[tuple[float, float, float]]] = {"backtest": [], "paper": []}
    for i in range(REPEAT):
        wall, cpu = timed([*QT, "run", *REPLAY, f"hydra.run.dir={folder}/bt{i}"])
        runs["backtest"].append((wall, cpu, _run_seconds(folder / f"bt{i}")))
        wall, cpu = timed([*QT, "run", "mode=live", "broker=paper", *REPLAY, "live.speed=max",
                           f"live.state_dir={folder}/paper{i}", f"hydra.run.dir={folder}/h{i}"])  # fmt: skip
        runs["paper"].append((wall, cpu, _run_seconds(folder / f"paper{i}")))
    out = {}
    for name, figures in runs.items():
        out[f"{name}_wall"] = min(f[0] for f in figures)
        out[f"{name}_cpu"] = min(f[1] for f in figures)
        out[f"{name}_run"] = min(f[2] for f in figures)
    return out


def _run_seconds(folder: Path) -> float:
    """The run's own time as its manifest records it (after startup: data, the run, the result files)."""
    import json

    return float(json.loads((folder / "manifest.json").read_text())["timings"]["total_s"])


def driver_for(folder: Path, overrides: list[str]) -> tuple[Any, Any, Any, list[int]]:
    """(driver, broker, panel, decision bars) for the latency workload, warmed up to just before its first decision."""
    import numpy as np

    from qt.commands.check import compose
    from qt.engine.components import build_components
    from qt.live.feeds import ReplayFeed
    from qt.live.history import History, utc_time
    from qt.live.paper import PaperBroker
    from qt.live.store import SqliteStoreSettings, open_from_settings
    from qt.runs.live import _settings, build_driver

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
    driver = build_driver(parts, settings, store, broker, history, feed, parts.settings.capital, market_clock=True)
    driver.on_bar = broker.on_bar
    return driver, broker, panel, decisions


def latency(folder: Path, overrides: list[str]) -> dict[str, Any]:
    """Per decision bar: arrival -> decision made -> last order placed (ms), orders placed; a profile of one."""
    from qt.live.history import BarRow

    driver, broker, panel, decisions = driver_for(folder, overrides)
    marks: dict[str, float] = {}
    place = broker.place

    def placing(order: Any) -> None:
        started = time.perf_counter()
        place(order)
        marks["last_place"] = time.perf_counter()
        marks["orders"] = marks.get("orders", 0) + 1
        marks["at_broker"] = marks.get("at_broker", 0.0) + marks["last_place"] - started

    broker.place = placing
    record = driver.session.on_decision

    def decided(out: Any) -> None:
        marks["decided"] = time.perf_counter()
        record(out)

    driver.session.on_decision = decided
    rows: list[dict[str, float]] = []
    profile = cProfile.Profile()
    profiled = decisions[2] if len(decisions) > 2 else decisions[-1]
    for t in range(decisions[0], min(decisions[4] + 1 if len(decisions) > 4 else panel.n_bars, panel.n_bars)):
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
    """Measure both, print the profile, and rewrite the live section of benchmarks/README.md."""
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        lat = latency(Path(tmp) / "latency", LATENCY)
        capped = latency(Path(tmp) / "capped", CAPPED)
        for name, result in (("meanvar", lat), ("meanvar, max_weight 0.4%", capped)):
            print(f"== {name}: profile of one decision bar")
            result["profile"].print_stats(25)
            for row in result["rows"]:
                print({k: round(v, 1) for k, v in row.items()})
        rep = replay(Path(tmp))
        print({k: round(v, 2) for k, v in rep.items()})
    rows = lat["rows"]
    rebalances = rows[1:] or rows  # the first decision builds the book from cash
    lines = [
        "## Live, paper broker (`benchmarks/live.py`)",
        "",
        f"Measured {dt.date.today():%Y-%m-%d} on 2 cores shared with other jobs (load average {load:.1f} at the start;",
        "wall time on a busy machine is inflated, CPU time less so).",
        "",
        "Full-history replay: the bundled sample (20 assets x 8,313 days), xmom + meanvar, whole `qt run` processes,",
        f"best of {REPEAT} (startup, data, run and result files included). Target: paper <= 5x the backtest.",
        "",
        "| run | process wall | process CPU | the run itself (manifest `total_s`) |",
        "|---|---:|---:|---:|",
        f"| `qt run` (backtest) | {rep['backtest_wall']:.1f} s | {rep['backtest_cpu']:.1f} s "
        f"| {rep['backtest_run']:.1f} s |",
        f"| `qt run mode=live broker=paper live.speed=max` | {rep['paper_wall']:.1f} s | {rep['paper_cpu']:.1f} s "
        f"| {rep['paper_run']:.1f} s |",
        f"| ratio | {rep['paper_wall'] / rep['backtest_wall']:.1f}x | {rep['paper_cpu'] / rep['backtest_cpu']:.1f}x "
        f"| {rep['paper_run'] / rep['backtest_run']:.1f}x |",
        "",
        "The target holds for whole processes, not for the run itself (without the ~1 s of interpreter and config",
        "startup both pay). The live run's extra time is durable writes: about 1 ms per order routed (4,193 orders:",
        "intent, acknowledgement and fill in qt's store; order, acceptance and fill in the paper broker's book) and",
        "about 0.3 ms per bar (a bar event and an equity point, one transaction); the backtest needs ~0.1 ms a bar.",
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
                         f"{r['to_last_order_ms']:.0f} ms | {r['at_broker_ms']:.0f} ms | {routing:.1f} ms "
                         f"| {r['step_ms']:.0f} ms |")  # fmt: skip
    med = statistics.median(r["to_last_order_ms"] for r in rebalances)
    med_capped = statistics.median(r["to_last_order_ms"] for r in capped["rows"][1:] or capped["rows"])
    lines += ["", f"Median over the rebalances after the first (which builds the book from cash): {med:.0f} ms to the "
              f"last order for meanvar, {med_capped:.0f} ms with the 0.4% cap.",
              "",
              "Where the time goes (cProfile of a decision bar, printed by the script): the decision (risk model,",
              "the active-set solve, sizing) is 15-130 ms; routing costs about 0.7 ms an order, which is durable",
              "SQLite writes - qt's store records each order's intent (committed before the order is sent), its",
              "acknowledgement and its fill, and the paper broker's own book records the order, its acceptance and",
              "its fill (one transaction per order, as a broker receives them one by one), about half the routing.",
              "Before the speed fixes of issue 10 the replay ratio was 5.7x (CPU): the rebalance rule was evaluated over the",
              "whole history at every bar (O(T^2)); a replay now schedules its known bar times once, as the",
              "backtest does; the router reads positions once per burst, not once per order; a poll without",
              "broker news opens no transaction."]  # fmt: skip
    write_section("live", "\n".join(lines))


if __name__ == "__main__":
    main()
