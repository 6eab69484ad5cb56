"""Helpers of the paper-broker tests: run `qt run mode=live broker=paper` in a real process, open its two stores."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

from qt.live.store import EventKind, LiveStore
from qt.live.store.sqlite import SqliteStore

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
    counts.update(str(a.payload["duplicate"]) for a in book.alerts() if "duplicate" in a.payload)
    return counts


def alerts(store: LiveStore) -> list[str]:
    """Every alert's message."""
    return [str(a.payload["message"]) for a in store.alerts()]


def close_enough(a: dict[str, float], b: dict[str, float], rel: float = 1e-9) -> bool:
    """Same symbols, quantities equal to ``rel`` (relative)."""
    return set(a) == set(b) and all(abs(a[s] - b[s]) <= rel * max(1.0, abs(b[s])) for s in a)
