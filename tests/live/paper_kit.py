"""Helpers of the paper-broker tests: run `qt run mode=live broker=paper` in a real process, open its two stores."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qt.enums import Field, FillTiming
from qt.execution.costs import BpsCosts, NoCosts
from qt.execution.simulator import ExecutionSimulator
from qt.live.guard import GuardSettings, RiskGuard
from qt.live.history import BarRow, utc_time
from qt.live.paper.broker import PaperBroker
from qt.live.router import RoutedVenue
from qt.live.store import EventKind, LiveStore
from qt.live.store.sqlite import SqliteStore
from qt.types import FillBatch, OrderBatch

REPO = Path(__file__).resolve().parents[2]
RUN_NAME = "rehearsal"
# 8 synthetic assets, a 40-day momentum ranked weekly (top half held): a burst of 4-6 orders most weeks.
SMALL = (
    "strategy=xmom", "portfolio=equal", "data=synthetic", "data.n_assets=8", "data.n_days=160",
    "strategy.params.lookback=40", "strategy.params.skip=5", "strategy.params.quantile=0.5",
    "strategy.params.frequency=weekly",
)  # fmt: skip


def run_live(
    state: Path, *overrides: str, fault: str | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """One `qt run mode=live broker=paper` process on ``state``; ``fault`` arms QT_FAULT (the process SIGKILLs itself)."""
    env = {k: v for k, v in os.environ.items() if k != "QT_FAULT"}
    if fault:
        env["QT_FAULT"] = fault
    hydra = state.parent / f"hydra-{uuid.uuid4().hex[:8]}"
    args = ["run", "mode=live", "broker=paper", f"live.run_name={RUN_NAME}", *overrides,
            f"live.state_dir={state}", f"hydra.run.dir={hydra}"]  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "qt", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout,
        check=False,
    )  # fmt: skip


def run_backtest(folder: Path, *overrides: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`qt run` (a backtest) with its results in ``folder``."""
    env = {k: v for k, v in os.environ.items() if k != "QT_FAULT"}
    return subprocess.run(
        [sys.executable, "-m", "qt", "run", *overrides, f"hydra.run.dir={folder}"], cwd=REPO, env=env,
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    """``proc`` if it exited 0; otherwise an assertion showing its stderr."""
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return proc


def open_store(state: Path) -> LiveStore:
    """qt's state store of a live run."""
    return SqliteStore(path=state / "state.sqlite", create=False)


def open_book(state: Path) -> LiveStore:
    """The paper broker's own book (it stands in for the broker's side)."""
    return SqliteStore(path=state / "paper-broker" / "state.sqlite", create=False)


def placements(book: LiveStore) -> Counter[str]:
    """How many times each client order id was placed at the paper broker.

    The first placement stores an intent in the book; a repeated one is refused and leaves a
    ``duplicate`` alert, so both count.
    """
    counts = Counter(e.payload["client_order_id"] for e in book.events(kinds=[EventKind.INTENT]))
    counts.update(
        str(a.record.order) for a in book.alerts() if a.record.message.startswith("duplicate client order id")
    )
    return counts


def alerts(store: LiveStore) -> list[str]:
    """Every alert's message."""
    return [str(a.payload["message"]) for a in store.alerts()]


def close_enough(a: dict[str, float], b: dict[str, float], rel: float = 1e-9) -> bool:
    """Same symbols, quantities equal to ``rel`` (relative)."""
    return set(a) == set(b) and all(abs(a[s] - b[s]) <= rel * max(1.0, abs(b[s])) for s in a)


# -- the router over the real paper broker and a real SQLite store, without a process ---------------------------
SYMBOLS = ("AAA", "BBB", "CCC", "DDD", "EEE")
DAY0 = np.datetime64("2024-01-02T21:00", "us")


@dataclass
class Desk:
    """A router, its guard, the paper broker and qt's store in one folder, stepped bar by bar like the driver."""

    router: RoutedVenue
    broker: PaperBroker
    store: LiveStore
    t: int = -1

    def bar(self, close: Sequence[float], open_: Sequence[float] | None = None) -> dt.datetime:
        """The next daily bar arrives (the driver's order: guard, router, then the broker sees it); its UTC time."""
        self.t += 1
        stamp = DAY0 + np.timedelta64(self.t, "D")
        row = BarRow(stamp, {Field.CLOSE: np.asarray(close, float),
                             Field.OPEN: np.asarray(close if open_ is None else open_, float)})  # fmt: skip
        self.router.guard.bar_arrived()
        self.router.new_bar(utc_time(stamp), row.values[Field.CLOSE])
        self.broker.on_bar(row)
        return utc_time(stamp)

    def send(self, assets: Sequence[int], quantities: Sequence[float]) -> list[FillBatch]:
        """Submit orders decided at this bar and poll: what the session would book."""
        self.router.submit(OrderBatch(self.t, np.asarray(assets, np.intp), np.asarray(quantities, float)), self.t)
        return self.router.poll(self.t)

    def close(self) -> None:
        """Release both stores."""
        self.broker.close()
        self.store.close()


def desk(
    folder: Path,
    *,
    timing: str = "close",
    bps: float = 0.0,
    guard: GuardSettings | None = None,
    clock: Callable[[], float] = time.monotonic,
    broker: PaperBroker | None = None,
) -> Desk:
    """A fresh (or reopened) desk in ``folder``; the order rate counts market time, as in a replay."""
    store = SqliteStore(path=folder / "state.sqlite", run_name=RUN_NAME, synchronous="NORMAL")
    if not store.events(limit=1):
        store.deposit(1e6, reason="initial capital", time=utc_time(DAY0))
    costs = BpsCosts(bps=bps) if bps else NoCosts()
    execution = ExecutionSimulator(timing=FillTiming(timing), costs=costs)
    broker = broker or PaperBroker.open(execution=execution, symbols=SYMBOLS, state_dir=folder, capital=1e6,
                                        run_name=RUN_NAME)  # fmt: skip
    router = RoutedVenue(broker=broker, store=store, guard=RiskGuard(guard or GuardSettings(), clock=clock),
                         symbols=SYMBOLS, run_name=RUN_NAME)  # fmt: skip
    router.guard.rate_clock = lambda: router.bar_time.timestamp()
    return Desk(router, broker, store)
