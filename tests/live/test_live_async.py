"""Async hygiene of the live loop: nothing blocks the event loop ib_async shares, nothing fails silently.

With a PostgreSQL or Redis store, each bar's record and the between-bar reads of other processes'
requests run in a worker thread (``asyncio.to_thread``), never on the thread running the event loop;
with SQLite they stay on it (local and fast). A feed whose task fails stops the run at once with its
error (a done-callback), instead of leaving the driver waiting for bars. The IB feed cancels its
real-time subscriptions and session timers at close, and the simulator sees the cancels.
Real runs (``qt.run`` in this process, the real stores and the paper broker); the spies only note
which thread a real method ran on.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import qt
from qt.errors import QtError
from qt.live.driver import LiveDriver
from qt.live.feeds import ReplayFeed

pytestmark = pytest.mark.slow
RUN = (
    "mode=live", "broker=paper", "strategy=xmom", "portfolio=equal", "data=synthetic", "data.n_assets=4",
    "data.n_days=80", "strategy.params.lookback=10", "strategy.params.skip=0", "strategy.params.quantile=0.5",
    "strategy.params.frequency=weekly", "report.tearsheet=false", "live.start=2000-03-01", "live.run_name=hygiene",
)  # fmt: skip


def threads_of(monkeypatch: pytest.MonkeyPatch, name: str) -> list[bool]:
    """Spy on ``LiveDriver.<name>``: for each call, whether it ran on the main thread (the event loop's)."""
    seen: list[bool] = []
    real = getattr(LiveDriver, name)

    def spy(self: LiveDriver, *args: Any, **kwargs: Any) -> Any:
        seen.append(threading.current_thread() is threading.main_thread())
        return real(self, *args, **kwargs)

    monkeypatch.setattr(LiveDriver, name, spy)
    return seen


def store_overrides(kind: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> tuple[str, ...]:
    """The ``live.store`` of ``kind`` (a fresh namespace; the DSN/URL from the environment, as users give it)."""
    tag = uuid.uuid4().hex[:10]
    if kind == "postgres":
        monkeypatch.setenv("QT_LIVE_PG_DSN", request.getfixturevalue("postgres"))
        return ("live.store.kind=postgres", f"+live.store.namespace=qt_test_async_{tag}")
    if kind == "redis":
        monkeypatch.setenv("QT_LIVE_REDIS_URL", request.getfixturevalue("redis_url"))
        return ("live.store.kind=redis", f"+live.store.namespace=qt:test:async:{tag}")
    return ()


@pytest.mark.parametrize(
    "kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres), pytest.param("redis", marks=pytest.mark.redis)]
)  # fmt: skip
def test_bar_records_leave_the_event_loop_for_network_stores(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    writes = threads_of(monkeypatch, "_write_bar")
    qt.run(*RUN, *store_overrides(kind, request, monkeypatch), f"live.state_dir={tmp_path / 'state'}",
                    run_dir=tmp_path / "state")  # fmt: skip
    assert len(writes) == len(pd.read_parquet(tmp_path / "state" / "equity.parquet")) > 10
    on_loop = kind == "sqlite"
    assert set(writes) == {on_loop}, f"{kind}: bar records ran on the event loop's thread: {writes}"


@pytest.mark.parametrize(
    "kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)  # fmt: skip
def test_between_bar_request_reads_leave_the_event_loop_for_network_stores(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    reads = threads_of(monkeypatch, "_requests_waiting")
    paced = threads_of(monkeypatch, "_between_bars")
    qt.run(*RUN, *store_overrides(kind, request, monkeypatch), "live.bar_seconds=0.5", "end=2000-03-08",
           f"live.state_dir={tmp_path / 'state'}", run_dir=tmp_path / "state")  # fmt: skip
    if kind == "sqlite":
        assert reads == [] and paced and all(paced)  # read on the loop: a local file
    else:
        assert len(reads) >= 5 and not any(reads)  # ~5 reads a second between bars, each in a worker thread


def test_a_failing_feed_stops_the_run_at_once_with_its_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = ReplayFeed.bars

    async def broken(self: ReplayFeed) -> Any:
        k = 0
        async for bar in real(self):
            if k == 3:
                raise ConnectionResetError("market data connection reset by peer")
            k += 1
            yield bar

    monkeypatch.setattr(ReplayFeed, "bars", broken)
    started = asyncio.new_event_loop().time()
    with pytest.raises((ConnectionResetError, QtError), match="connection reset by peer"):
        qt.run(*RUN, "live.guard.stale_after_s=600", f"live.state_dir={tmp_path / 'state'}", run_dir=tmp_path / "state")
    assert asyncio.new_event_loop().time() - started < 60  # at once, not after the stale-data watchdog (600 s)
