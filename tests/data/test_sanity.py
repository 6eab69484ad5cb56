"""Absurd prices (a one-bar spike, a 1,000x move) stop a run with the symbol, bar and prices; real moves pass."""

from __future__ import annotations

import numpy as np
import pytest

from qt.data.panel import BarPanel
from qt.data.sanity import check_price_jumps
from qt.enums import Field
from qt.errors import DataError


def _panel(close: list[list[float]]) -> BarPanel:
    c = np.asarray(close, dtype=float)
    stamps = np.arange("2021-01-04", len(c), dtype="datetime64[D]").astype("datetime64[us]")
    return BarPanel(stamps, tuple(f"S{i}" for i in range(c.shape[1])), {Field.CLOSE: c}, name="t")


def test_a_spike_that_reverts_is_refused_with_symbol_bar_and_prices():
    close = [[100, 50], [101, 51], [12_000, 52], [102, 53], [103, 54]]
    with pytest.raises(DataError) as err:
        check_price_jumps(_panel(close), "data.path prices.parquet")
    message = str(err.value)
    assert "data.path prices.parquet" in message
    assert "S0 on 2021-01-06: close 12000 after 101 (next bar 102)" in message


def test_a_thousandfold_move_on_the_last_bar_is_refused():
    close = [[100.0], [101.0], [1e9]]
    with pytest.raises(DataError, match=r"S0 on 2021-01-06: close 1e\+09 after 101"):
        check_price_jumps(_panel(close), "data")


def test_gaps_are_skipped_when_comparing_with_the_bar_before():
    close = [[100.0], [np.nan], [np.nan], [5_000.0], [101.0]]
    with pytest.raises(DataError, match="close 5000 after 100"):
        check_price_jumps(_panel(close), "data")


def test_real_moves_pass_a_crash_a_reverse_split_and_a_rally():
    close = [[100, 10, 5], [20, 100, 5.5], [21, 101, 40], [22, 102, 41]]  # -80 %, a 1:10 reverse split, 7.3x
    check_price_jumps(_panel(close), "data")


def test_the_bundled_sample_passes():
    from qt.data.sources.sample import SampleData

    check_price_jumps(SampleData().load(), "sample")
