"""Real processes on one store: a halt from a second process, concurrent writers, SIGKILL inside a write."""

from __future__ import annotations

import datetime as dt
import json
import signal

import pytest
from conftest import run_child, start_child
from store_child import T0, writer_bar
from v1_fixture import plant_v1, raw

from qt.enums import TradingState
from qt.live.store import EventKind, LiveStore, open_state_dir

SYMBOLS = ("AAPL", "MSFT", "TSLA")
pytestmark = pytest.mark.slow


def _env_for(spec: dict) -> dict[str, str]:
    """What `qt live halt --state-dir` would find in its environment for a server store."""
    return {"QT_LIVE_PG_DSN": spec.get("dsn", ""), "QT_LIVE_REDIS_URL": spec.get("url", "")}


def test_halt_from_another_process_while_this_one_writes(spec, store: LiveStore) -> None:
    store.record_bar(writer_bar("p", -1), time=_t(0))
    writers = [start_child(spec, {"task": "bars", "writer": w, "count": 60}) for w in ("a", "b")]
    halt = run_child(spec, {"task": "halt", "reason": "ops: halt"}, env=_env_for(spec))
    for i in range(100):  # this process keeps writing, as the live driver does
        store.record_bar(writer_bar("p", i), time=_t(i))
    outputs = [w.communicate(timeout=120) for w in writers]
    assert halt.returncode == 0, halt.stderr
    for writer, (_, err) in zip(writers, outputs, strict=True):
        assert writer.returncode == 0, err
    status = store.trading_state()
    assert (status.state, status.reason) == (TradingState.HALTED, "ops: halt")
    kinds = [e.kind for e in store.events()]
    assert kinds.count(EventKind.BAR) == 1 + 100 + 2 * 60 and kinds.count(EventKind.TRADING_STATE) == 1
    assert store.integrity_check() == []


def _t(i: int) -> dt.datetime:
    return T0 + dt.timedelta(seconds=i)


def _expected_book(committed: int) -> tuple[dict[str, float], float]:
    """Positions and cash after the first ``committed`` writes of a burst, worked out from its definition.

    Write 1 deposits 100,000; round i writes its intent (2 + 3i), update (3 + 3i) and fill (4 + 3i):
    symbol SYMBOLS[i % 3], quantity (i + 1) with sign + for even i, price 100 + i, fee 1.
    """
    positions: dict[str, float] = {}
    cash = 100_000.0 if committed >= 1 else 0.0
    i = 0
    while 4 + 3 * i <= committed:
        qty = float((i + 1) * (1 if i % 2 == 0 else -1))
        symbol = SYMBOLS[i % 3]
        positions[symbol] = positions.get(symbol, 0.0) + qty
        cash -= qty * (100.0 + i) + 1.0
        i += 1
    return {s: q for s, q in positions.items() if q != 0}, cash


@pytest.mark.parametrize(
    ("fault", "at", "restart"),
    [
        ("store.after_log_insert", 29, False),  # round 9's intent (write 2 + 3*9): logged, not in the orders table
        ("store.after_log_insert", 31, True),  # round 9's fill (write 4 + 3*9): logged, the book not moved
        ("store.before_commit", 42, False),  # round 13's update (3 + 3*13): everything applied, never committed
    ],
)
def test_sigkill_inside_a_write_leaves_a_sound_store(spec, opener, fault: str, at: int, restart: bool) -> None:
    child = run_child(spec, {"task": "burst", "rounds": 20}, env={"QT_FAULT": f"{fault}@{at}"})
    assert child.returncode == -signal.SIGKILL, child.stderr
    store = opener(run_name=None, create=False)
    assert len(store.events()) == at - 1  # the killed write rolled back, every earlier one is there
    assert store.integrity_check() == []
    assert store.replay() == store.snapshot()
    positions, cash = _expected_book(at - 1)
    assert store.positions() == pytest.approx(positions)
    assert store.cash() == pytest.approx(cash)
    if not restart:
        return
    # Restarting the same burst stores nothing twice and completes it.
    again = run_child(spec, {"task": "burst", "rounds": 20})
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["events"] == 1 + 3 * 20
    final = open_state_dir(spec["state_dir"], dsn=spec.get("dsn"), url=spec.get("url"))
    try:
        assert final.integrity_check() == []
        assert final.positions() == pytest.approx(_expected_book(1 + 3 * 20)[0])
        assert final.cash() == pytest.approx(_expected_book(1 + 3 * 20)[1])
    finally:
        final.close()


def test_sigkill_inside_a_held_group_loses_only_what_came_after_the_last_sync(spec, opener) -> None:  # type: ignore[no-untyped-def]
    """Group commit: a burst held and synced every 5 rounds, killed in round 12's intent (write 2 + 3*12).

    The deposit and rounds 0-9 were synced (1 + 30 writes); rounds 10 and 11 were held and are lost whole.
    A backend that commits every write at once (Redis) loses only the killed write.
    """
    child = run_child(spec, {"task": "held_burst", "rounds": 20, "sync_every": 5},
                      env={"QT_FAULT": "store.before_commit@38"})  # fmt: skip
    assert child.returncode == -signal.SIGKILL, child.stderr
    store = opener(run_name=None, create=False)
    committed = 1 + 3 * 10 if store.holds_writes else 37
    assert len(store.events()) == committed
    assert store.integrity_check() == []
    assert store.replay() == store.snapshot()
    positions, cash = _expected_book(committed)
    assert store.positions() == pytest.approx(positions)
    assert store.cash() == pytest.approx(cash)


def test_a_migration_killed_before_its_commit_leaves_the_old_store(spec, opener) -> None:  # type: ignore[no-untyped-def]
    plant_v1(spec)
    before = raw(spec)
    killed = run_child(spec, {"task": "open", "run_name": "v1-run"}, env={"QT_FAULT": "store.migration"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert raw(spec) == before  # the rewrite of the log, the snapshot and the version: none of it committed
    store = opener(run_name="v1-run")  # the next open migrates it whole
    assert store.meta().schema_version == 2 and len(store.events()) == 25 and store.integrity_check() == []
