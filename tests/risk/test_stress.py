"""Stress tests: worst windows found by hand, replayed on a book; hypothetical market and group shocks."""

from __future__ import annotations

import numpy as np
import pytest

from qt.risk.stress import NamedWindow, Shock, StressTests, stress_report, worst_windows
from qt.testing.panels import daily_panel

CLOSE = np.array([[100.0, 50.0], [100.0, 50.0], [90.0, 50.0], [80.0, 45.0], [85.0, 45.0], [85.0, 45.0], [85.0, 40.0]])


def test_worst_windows_are_the_worst_non_overlapping_market_moves():
    # market daily returns: 0, -5%, -10.56%, +3.1%, 0, -5.6%  -> worst 2-bar window: bars 2..3
    assert worst_windows(CLOSE, 2, 2) == [(2, 3), (5, 6)]


def test_replay_and_shocks_on_each_book():
    panel = daily_panel(CLOSE, symbols=["A", "B"])
    tests = StressTests(
        days=[2],
        n_worst=1,
        windows=[NamedWindow(name="slide", start="2024-01-06", end="2024-01-07")],
        shocks=[Shock(name="market -20%", shock=-0.2), Shock(name="A -30%", group="g", shock=-0.3)],
        groups={"g": ["A"]},
    )
    books = [(1, np.array([1.0, 0.0])), (4, np.array([0.5, 0.5]))]
    report = stress_report(tests, panel, books, final=np.array([0.0, 1.0]))
    rows = {r["scenario"]: r for r in report["scenarios"]}
    worst = rows["worst 2-bar #1"]  # A 100 -> 80 (-20%), B 50 -> 45 (-10%)
    assert (worst["start"], worst["end"]) == ("2024-01-03", "2024-01-04")
    assert worst["decision_pnl"] == pytest.approx([-0.2, -0.15])
    assert worst["final_book_pnl"] == pytest.approx(-0.1)
    assert rows["slide"]["decision_pnl"] == pytest.approx([0.0, 0.5 * (40 / 45 - 1)])
    assert rows["market -20%"]["worst_decision_pnl"] == pytest.approx(-0.2)
    assert rows["A -30%"]["decision_pnl"] == pytest.approx([-0.3, -0.15])
    assert rows["A -30%"]["final_book_pnl"] == 0.0
    assert report["decisions"] == ["2024-01-02", "2024-01-05"]


def test_unknown_shock_group_is_named():
    with pytest.raises(ValueError, match="unknown group 'tech'"):
        StressTests(shocks=[Shock(name="x", group="tech", shock=-0.3)]).scenarios(daily_panel(CLOSE))
