"""``qt live`` on a finished paper run: status (rich at 80 columns, --json), halt/resume/flatten with no process
running, paths with ``~`` and ``$VARS``, bad folders, ``mode=live`` without a broker, and ``qt tearsheet`` on a
state folder giving the backtest's own report.

The expected figures are worked out from the result files (fills.parquet, orders.parquet) and the data's
calendar, not from the store ``qt live status`` reads.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from live_procs import RUN, qt

from qt.enums import TradingState
from qt.live.store import open_state_dir

pytestmark = pytest.mark.slow
CAPITAL = 1_000_000.0
SHARED = tuple(a for a in RUN if not a.startswith(("mode=", "broker=", "live.")))  # the backtest's own overrides


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A paper run replayed from the data's first bar at max speed, to the end (the state folder)."""
    root = tmp_path_factory.mktemp("live-cli")
    state = root / "state"
    done = qt("run", *RUN, "live.start=null", f"live.state_dir={state}", f"hydra.run.dir={root / 'run'}", cwd=root)
    assert done.returncode == 0, done.stderr
    return state


def test_status_shows_the_book_the_result_files_imply(finished: Path, tmp_path: Path) -> None:
    shown = qt("live", "status", "--state-dir", str(finished), "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)

    fills = pd.read_parquet(finished / "fills.parquet")
    signed = fills["quantity"].where(fills["side"] == "buy", -fills["quantity"])
    held = signed.groupby(fills["symbol"]).sum()
    held = held[held.abs() > 1e-9]
    assert report["positions"] == pytest.approx(held.to_dict(), rel=1e-12)
    spent = (signed * fills["price"]).sum() + fills["fees"].sum()
    assert report["cash"] == pytest.approx(CAPITAL - spent, abs=1e-4)

    last_day = pd.bdate_range("2000-01-03", periods=260)[-1]  # synthetic data: 260 business days from 2000-01-03
    assert report["last_bar"]["time"] == f"{last_day.date()}T00:00:00+00:00"
    orders = pd.read_parquet(finished / "orders.parquet")
    assert report["last_decision"] == {
        "time": report["last_bar"]["time"],
        "orders": int((orders["decided_at"] == last_day).sum()),
    }
    equity = pd.read_parquet(finished / "equity.parquet")
    assert report["last_bar"]["nav"] == pytest.approx(equity["nav"].iloc[-1], rel=1e-12)
    assert report["trading_state"]["state"] == "active"
    assert report["open_orders"] == []  # close timing: every order filled at its decision bar
    assert report["health"] == {"stale": False, "last_event": None}
    assert report["alerts"] == {"total": 0, "recent": []}
    assert report["integrity"]["ok"] is True and report["integrity"]["problems"] == []
    assert report["store"]["kind"] == "sqlite" and report["store"]["location"] == str(finished / "state.sqlite")

    text = qt("live", "status", "--state-dir", str(finished), cwd=tmp_path, env={"COLUMNS": "80"})
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, text.stdout
    assert re.search(r"^trading +ACTIVE since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", text.stdout, re.M)
    assert f"last bar   {last_day.date()} 00:00:00 UTC" in text.stdout
    assert f"positions ({len(held)})" in text.stdout
    for symbol in held.index:
        assert re.search(rf"^ {symbol} +│ +[\d,.]+ *$", text.stdout, re.M), text.stdout
    assert "integrity  ok: the log" in text.stdout
    assert "open orders: none" in text.stdout and "alerts: none" in text.stdout


def test_halt_resume_flatten_with_no_process_running_expand_paths(finished: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    state = home / "live" / "xmom"
    shutil.copytree(finished, state)
    env = {"HOME": str(home), "QT_TEST_LIVE_ROOT": str(home / "live")}

    halted = qt("live", "halt", "--state-dir", "$QT_TEST_LIVE_ROOT/xmom", "--reason", "earnings", cwd=tmp_path, env=env)
    assert halted.returncode == 0, halted.stderr
    assert halted.stdout.splitlines()[0].startswith(f"HALTED {state}: earnings (halt from the command line by ")
    with open_state_dir(state) as store:
        status = store.trading_state()
        assert status.state is TradingState.HALTED and status.reason.startswith("earnings (halt from")
    shown = json.loads(qt("live", "status", "--state-dir", "~/live/xmom", "--json", cwd=tmp_path, env=env).stdout)
    assert shown["state_dir"] == str(state)
    assert shown["trading_state"] == {"state": "halted", "cause": "operator", "reason": status.reason,
                                      "since": status.since.isoformat()}  # fmt: skip

    flat = qt("live", "flatten", "--state-dir", "${QT_TEST_LIVE_ROOT}/xmom", cwd=tmp_path, env=env)
    assert flat.returncode == 0, flat.stderr
    assert "the request waits in the store and applies at the next start" in flat.stdout
    with open_state_dir(state) as store:
        assert store.trading_state().state is TradingState.REDUCING
        requests = [e.payload for e in store.events(kinds=["request"])]
        assert [r["request"] for r in requests] == ["flatten"]
        assert store.positions()  # nothing runs: the positions wait for the next start

    resumed = qt("live", "resume", "--state-dir", "~/live/xmom", cwd=tmp_path, env=env)
    assert resumed.returncode == 0, resumed.stderr
    with open_state_dir(state) as store:
        assert store.trading_state().state is TradingState.ACTIVE
        assert store.integrity_check() == []
        kinds = [e.payload["state"] for e in store.events(kinds=["trading_state"])]
        assert kinds == ["halted", "reducing", "active"]


@pytest.mark.parametrize("action", ["status", "halt", "resume", "flatten"])
def test_a_missing_or_empty_state_folder_is_one_error_naming_it(action: str, tmp_path: Path) -> None:
    missing = qt("live", action, "--state-dir", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.strip() == (
        f"error: --state-dir {tmp_path / 'nowhere'}: no such folder; "
        "give the live.state_dir of a `qt run mode=live` run"
    )
    assert not (tmp_path / "nowhere").exists()
    (tmp_path / "empty").mkdir()
    empty = qt("live", action, "--state-dir", str(tmp_path / "empty"), cwd=tmp_path)
    assert empty.returncode == 2
    assert len(empty.stderr.strip().splitlines()) == 1 and "Traceback" not in empty.stderr
    assert empty.stderr.startswith(f"error: {tmp_path / 'empty'}: no live state store here")
    assert list((tmp_path / "empty").iterdir()) == []  # nothing created


def test_unset_variable_in_the_state_dir_is_named(tmp_path: Path) -> None:
    done = qt("live", "status", "--state-dir", "$QT_TEST_SURELY_UNSET_VAR/x", cwd=tmp_path)
    assert done.returncode == 2 and "QT_TEST_SURELY_UNSET_VAR" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("broker", "message"),
    [
        (None, "ERROR: broker: mode=live needs a broker: choose one of paper, ib (e.g. broker=paper)"),
        ("broker=nope", "ERROR: broker: no option 'nope'; choose one of: paper, ib"),
    ],
)
def test_mode_live_without_a_broker_lists_the_brokers(broker: str | None, message: str, tmp_path: Path) -> None:
    args = ["run", "mode=live", "data=synthetic", "data.n_assets=3", "data.n_days=30", f"hydra.run.dir={tmp_path}/r"]
    done = qt(*args, *([broker] if broker else []), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == message
    assert not (tmp_path / "live").exists()


def test_tearsheet_of_a_live_state_folder_is_the_backtests_report(finished: Path, tmp_path: Path) -> None:
    backtest = tmp_path / "backtest"
    done = qt("run", *SHARED, f"hydra.run.dir={backtest}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    live_sheet = qt("tearsheet", str(finished), cwd=tmp_path)
    assert live_sheet.returncode == 0, live_sheet.stderr
    assert live_sheet.stdout.strip().endswith(f"tearsheet: {finished / 'tearsheet.html'}")
    assert qt("tearsheet", str(backtest), cwd=tmp_path).returncode == 0

    def sections(folder: Path) -> list[str]:
        return re.findall(r"<h2[^>]*>([^<]*)", (folder / "tearsheet.html").read_text())

    live_only = "What live cost: against the backtest of the same config over the same bars"  # qt tearsheet LIVE_DIR
    assert sections(finished) == [*sections(backtest)[:1], live_only, *sections(backtest)[1:]]
    assert "Stress tests" in sections(finished) and "Risk events" in sections(finished)
    ran = json.loads((backtest / "metrics.json").read_text())
    live = json.loads((finished / "metrics.json").read_text())
    assert {k: live[k] for k in ran} == ran  # every figure of the backtest, equal: the same bars, the same objects
    assert live["trading_state"] == "active"
    compared = qt("tearsheet", str(backtest), str(finished), "--out", str(tmp_path / "cmp.html"), cwd=tmp_path)
    assert compared.returncode == 0, compared.stderr
    assert (tmp_path / "cmp.html").stat().st_size > 0


def test_help_lists_the_live_commands(tmp_path: Path) -> None:
    top = qt("--help", cwd=tmp_path)
    assert re.search(r"^ +live +inspect and control a live run from another shell", top.stdout, re.M)
    sub = qt("live", "--help", cwd=tmp_path)
    for action in ("status", "halt", "resume", "flatten"):
        assert re.search(rf"^ +{action} ", sub.stdout, re.M), sub.stdout
    status = qt("live", "status", "--help", cwd=tmp_path)
    assert "--state-dir DIR" in status.stdout and "--json" in status.stdout
    run = qt("run", "--help", cwd=tmp_path).stdout
    assert re.search(r"^mode: backtest, live$", run, re.M) and re.search(r"^broker: ib, paper$", run, re.M)
    for key in (
        "state_dir",
        "start",
        "speed",
        "store.kind",
        "guard.stale_after_s",
        "adopt_positions",
        "cancel_on_exit",
    ):
        assert key in run.split("live.*:")[1], key
    live = qt("run", "mode=live", "broker=paper", "--help", cwd=tmp_path).stdout
    assert re.search(r"^live:\n  state_dir: ", live, re.M)  # the whole live block, with its defaults
