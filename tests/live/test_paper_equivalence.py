"""Backtest == paper: `qt run mode=live broker=paper` replaying the same bars makes the backtest's run, exactly.

Both runs are real CLI processes with the same config; their result folders are compared file
by file with exact equality: decisions.parquet, weights.parquet (each decision's book before and
its target), orders.parquet, fills.parquet (quantity, price, fees at every decision) and
equity.parquet. This is the proof that live uses the same strategy, portfolio and risk objects.

Cases: xmom + equal over the bundled sample's whole history; xmom + meanvar from 2012 (the
same machinery, a fifth of the bars, to keep the suite fast); and fills at the next open with
bps costs, risk=conservative's limits (position-weight clips) and its two stops
tightened so that both fire (drawdown halt and resume, daily-loss de-risking). Two differences
are deliberate and tested as such: orders decided on the data's last bar at ``next_open`` (a
backtest cancels them, no bar to fill on; live leaves them working at the broker) and a
daily-loss stop (live halts on it unless ``live.halt_on_daily_loss=false``; a backtest de-risks).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from paper_kit import ok, open_book, open_store, run_backtest, run_live

from qt.enums import OrderStatus, TradingState

pytestmark = pytest.mark.slow
FILES = ("decisions", "weights", "orders", "fills", "equity", "events")
NO_NEXT_BAR = "no bar after the decision to fill on"
# Next-open fills, 5 bps costs, conservative limits, and stops tight enough to fire on these bars.
STOPS = (
    "strategy=xmom", "portfolio=equal", "data=synthetic", "data.n_assets=20", "data.n_days=800",
    "execution=next_open", "costs=bps", "risk=conservative", "risk.post_trade.0.max_drawdown=0.03",
    "risk.post_trade.0.resume_after=5", "risk.post_trade.1.max_loss=0.015",
)  # fmt: skip


def both(tmp_path: Path, *overrides: str, live_only: tuple[str, ...] = ()) -> tuple[Path, Path]:
    """(backtest folder, paper state folder) of the same config."""
    backtest, paper = tmp_path / "backtest", tmp_path / "paper"
    ok(run_backtest(backtest, *overrides))
    ok(run_live(paper, *overrides, *live_only))
    return backtest, paper


def table(folder: Path, name: str) -> pd.DataFrame:
    """One result file."""
    return pd.read_parquet(folder / f"{name}.parquet")


def assert_same_run(backtest: Path, paper: Path, files: tuple[str, ...] = FILES) -> None:
    """Every result file equal, value for value."""
    for name in files:
        a, b = table(backtest, name), table(paper, name)
        assert len(a) > 0 or name == "events", f"{name}.parquet is empty: the case proves nothing"
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=f"{name}.parquet")


def test_xmom_equal_full_history_is_the_backtest(tmp_path: Path) -> None:
    """The bundled sample, all 8,313 bars: the same decisions, orders, fills and NAV."""
    backtest, paper = both(tmp_path, "strategy=xmom", "portfolio=equal")
    assert_same_run(backtest, paper)
    assert len(table(paper, "equity")) == 8313


def test_xmom_meanvar_is_the_backtest(tmp_path: Path) -> None:
    """Mean-variance targets (the optimizer's report too) from 2012: the same decisions, orders, fills, NAV."""
    backtest, paper = both(tmp_path, "strategy=xmom", "portfolio=meanvar", "start=2012-01-01")
    assert_same_run(backtest, paper)
    assert (table(paper, "decisions")["status"] == "optimal").sum() > 100


def test_next_open_costs_limits_and_stops_are_the_backtest(tmp_path: Path) -> None:
    """Fills at the next open with fees, clipped orders, a halting drawdown stop and its resumes.

    The one difference: orders decided on the last bar. A backtest has no bar to fill them on and
    cancels them; live leaves them working at the broker (they fill at the next open to come).
    """
    backtest, paper = both(tmp_path, *STOPS, live_only=("live.halt_on_daily_loss=false",))
    assert_same_run(backtest, paper, tuple(f for f in FILES if f != "orders"))
    events = table(paper, "events")["kind"].value_counts().to_dict()
    assert events["drawdown_stop"] >= 2 and events["resume"] >= 2 and events["daily_loss"] >= 1
    fills = table(paper, "fills")
    assert (fills["fees"] > 0).all()
    orders_a, orders_b = table(backtest, "orders"), table(paper, "orders")
    assert orders_b["reason"].str.startswith("clipped: position weight").any()  # MaxPositionWeight at work
    assert (orders_b["reason"] == "superseded by drawdown_stop").any()  # waiting orders a stop cancelled
    at_end = orders_a["reason"] == NO_NEXT_BAR
    assert at_end.sum() > 0 and (orders_a.loc[at_end, "decided_at"] == orders_a["decided_at"].max()).all()
    pd.testing.assert_frame_equal(orders_a[~at_end], orders_b, check_exact=True)
    store, book = open_store(paper), open_book(paper)
    try:
        working = sorted((o.symbol, o.intent.quantity) for o in book.orders(open_only=True))
        ours = sorted((o.symbol, o.intent.quantity) for o in store.orders(status=OrderStatus.SUBMITTED))
    finally:
        store.close()
        book.close()
    expected = sorted(
        zip(orders_a.loc[at_end, "symbol"], orders_a.loc[at_end, "quantity"].where(orders_a["side"] == "buy",
            -orders_a.loc[at_end, "quantity"]), strict=True)
    )  # fmt: skip
    assert working == ours == expected


def test_a_daily_loss_halts_live_where_the_backtest_derisks(tmp_path: Path) -> None:
    """The deliberate difference: live halts on the daily-loss limit (halt_on_daily_loss) and says why."""
    config = (*STOPS[:-3], "risk.post_trade.0.max_drawdown=0.5", "risk.post_trade.1.max_loss=0.015")
    backtest, paper = both(tmp_path, *config)
    loss = table(backtest, "events")
    loss = loss[loss["kind"] == "daily_loss"]
    assert len(loss) >= 1
    first = loss["timestamp"].min()
    assert (table(backtest, "orders")["decided_at"] > first).any()  # the backtest trades on after de-risking
    live_orders = table(paper, "orders")
    assert not (live_orders["decided_at"] > first).any()  # live decides nothing after the halt
    pd.testing.assert_frame_equal(
        table(backtest, "fills").query("timestamp <= @first"), table(paper, "fills").query("timestamp <= @first"),
        check_exact=True,
    )  # fmt: skip
    store = open_store(paper)
    try:
        status = store.trading_state()
    finally:
        store.close()
    assert status.state is TradingState.HALTED and status.reason.startswith("daily_loss")
