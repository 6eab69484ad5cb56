"""One owner of the trading state: every change is one recorded event with its typed cause; each cause its rule.

TradingControl over a real SQLite store (a second handle plays ``qt live`` in another process), the
session's state reading through it, and a real paper run whose drawdown stop halts and resumes.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from live_procs import RUN, qt

from qt.engine.ledger import Ledger
from qt.enums import HaltCause, TradingState
from qt.live.store import EventKind, open_state_dir, open_store
from qt.live.trading import ControlledState, ResumeRule, TradingControl, stop_cause

T0 = dt.datetime(2024, 1, 2, 21, tzinfo=dt.UTC)


def changes(store) -> list[tuple[str, str]]:
    """(state, cause) of every trading-state event, oldest first."""
    return [(e.payload["state"], e.payload["cause"]) for e in store.events(kinds=[EventKind.TRADING_STATE])]


def test_every_change_is_one_event_with_its_cause_and_each_cause_its_resume_rule(tmp_path: Path) -> None:
    with open_store(state_dir=tmp_path, run_name="t") as store:
        control = TradingControl(store)
        assert control.state is TradingState.ACTIVE and control.cause is HaltCause.NONE and changes(store) == []
        n = len(store.events())
        control.halt(HaltCause.STALE_DATA, "stale data: no bar for 61 s", time=T0)
        assert len(store.events()) == n + 1
        assert (control.state, control.cause, control.rule) == (
            TradingState.HALTED, HaltCause.STALE_DATA, ResumeRule.FRESH_DATA
        )  # fmt: skip
        assert not control.keeps_stop_orders
        assert control.fresh_data(time=T0) is True  # a bar arrived: the stale halt ends (with an alert)
        assert control.fresh_data(time=T0) is False  # nothing to end any more
        control.halt(HaltCause.BROKER_REJECTS, "5 broker rejects in 10 minutes", time=T0)
        assert control.rule is ResumeRule.OPERATOR and control.fresh_data() is False  # fresh bars do not end it
        control.resume(HaltCause.OPERATOR, "resume from the command line", time=T0)
        control.halt(HaltCause.DRAWDOWN_STOP, "drawdown: 12% >= 10%", time=T0)
        assert control.keeps_stop_orders and control.rule is ResumeRule.AFTER_BARS
        control.reduce(HaltCause.OPERATOR, "flatten", time=T0)
        assert changes(store) == [
            ("halted", "stale_data"), ("active", "stale_data"), ("halted", "broker_rejects"), ("active", "operator"),
            ("halted", "drawdown_stop"), ("reducing", "operator"),
        ]  # fmt: skip
        alerts = [a.payload["message"] for a in store.alerts()]
        assert alerts == ["fresh data: bars arrive again; trading resumes"]
        assert store.trading_state().cause is HaltCause.OPERATOR and store.integrity_check() == []


def test_the_session_reads_the_control_and_its_stop_is_recorded_once_by_the_driver(tmp_path: Path) -> None:
    with open_store(state_dir=tmp_path, run_name="t") as store:
        control = TradingControl(store)
        state = ControlledState(control, ledger=Ledger(cash=100.0, n_assets=2), peak=100.0, previous=100.0)
        assert state.trading is TradingState.ACTIVE
        state.trading = TradingState.HALTED  # what Session._act_on does when a halting stop fires
        assert state.trading is TradingState.HALTED and control.session_state is TradingState.HALTED
        assert control.state is TradingState.ACTIVE  # the guard still lets the stop's own orders of this bar go
        assert changes(store) == []  # proposed within the bar: the driver records it with the stop's cause
        control.halt(stop_cause("drawdown_stop"), "drawdown: 30% >= 25%", time=T0)
        state.trading = TradingState.HALTED  # unchanged: nothing proposed
        assert changes(store) == [("halted", "drawdown_stop")]
        assert stop_cause("daily_loss") is HaltCause.DAILY_LOSS
        np.testing.assert_array_equal(state.ledger.positions, [0.0, 0.0])


def test_a_change_from_another_process_is_read_never_copied(tmp_path: Path) -> None:
    with open_store(state_dir=tmp_path, run_name="t") as store:
        control = TradingControl(store)
        with open_state_dir(tmp_path) as other:  # `qt live halt` in another shell
            other.set_trading_state(TradingState.HALTED, "earnings", cause=HaltCause.OPERATOR)
        assert control.state is TradingState.ACTIVE  # what this process last read ...
        assert control.refresh() is True  # ... until it reads the store again
        assert (control.state, control.cause, control.reason) == (TradingState.HALTED, HaltCause.OPERATOR, "earnings")
        assert control.refresh() is False


@pytest.mark.slow
def test_a_paper_runs_drawdown_stop_halts_and_resumes_each_recorded_with_its_cause(tmp_path: Path) -> None:
    state = tmp_path / "state"
    stop = "risk.post_trade=[{_target_:qt.risk.stops.DrawdownStop,max_drawdown:0.02,resume_after:5}]"
    done = qt("run", *RUN, stop, f"live.state_dir={state}", f"hydra.run.dir={tmp_path / 'r'}", cwd=tmp_path,
              timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    with open_state_dir(state) as store:
        seen = changes(store)
        halts = [e.record for e in store.alerts() if e.payload.get("risk_event")]
    kinds = [a.risk_event.kind for a in halts]
    assert kinds.count("drawdown_stop") >= 1 and kinds.count("resume") >= 1
    # one event per change, alternating, each with the stop's cause; the resume's cause is the halt it ended
    expected = [("halted", "drawdown_stop") if k == "drawdown_stop" else ("active", "drawdown_stop") for k in kinds]
    assert seen == expected
