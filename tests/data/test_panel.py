"""BarPanel: round trip with the long frame, tradability, marks, window selection."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from qt.data.panel import BarPanel, forward_fill
from qt.data.sources.sample import SampleData
from qt.enums import Field
from qt.errors import DataError, MissingFieldError
from qt.testing.panels import daily_panel


def test_round_trip_with_the_long_frame_keeps_every_value():
    panel = SampleData(dataset="spx_nasdaq_ohlcv").load()
    again = BarPanel.from_frame(panel.to_frame(), name=panel.name)
    assert again.fingerprint() == panel.fingerprint()
    assert again.symbols == ("NASDAQ", "SPX")


def test_tz_aware_frames_round_trip_exactly():
    stamps = pd.date_range("2024-03-08 09:30", periods=4, freq="30min", tz="America/New_York")
    frame = pd.DataFrame({"timestamp": stamps, "symbol": "A", "close": [1.0, 2.0, 3.0, 4.0]})
    panel = BarPanel.from_frame(frame)
    assert panel.tz == "America/New_York"
    back = panel.to_frame()
    assert back["timestamp"].tolist() == stamps.tolist()


def test_assets_without_a_bar_are_not_tradable_and_keep_their_mark():
    panel = daily_panel([[np.nan, 5.0], [2.0, np.nan], [3.0, 6.0]])
    assert panel.tradable.tolist() == [[False, True], [True, False], [True, True]]
    np.testing.assert_array_equal(panel.mark_prices, [[0.0, 5.0], [2.0, 5.0], [3.0, 6.0]])
    assert panel.last_valid.tolist() == [2, 2]


def test_forward_fill_never_looks_ahead():
    x = np.array([[np.nan, 1.0], [2.0, np.nan], [np.nan, np.nan], [4.0, 3.0]])
    expected = np.array([[np.nan, 1.0], [2.0, 1.0], [2.0, 1.0], [4.0, 3.0]])
    np.testing.assert_array_equal(forward_fill(x), expected)


def test_between_is_inclusive_and_names_an_empty_window():
    panel = daily_panel(np.ones((10, 2)), start="2024-01-01")
    cut = panel.between("2024-01-03", "2024-01-05")
    assert cut.n_bars == 3 and str(cut.timestamps[-1])[:10] == "2024-01-05"
    with pytest.raises(DataError, match="no bars between start=2030-01-01"):
        panel.between("2030-01-01", None)


def test_a_missing_field_names_who_needs_it():
    panel = daily_panel(np.ones((3, 2)))
    with pytest.raises(MissingFieldError, match="RSI needs the 'high' field, but data set 'hand-made' has only: close"):
        panel.require(Field.HIGH, needed_by="RSI")


def test_shapes_and_order_are_checked():
    with pytest.raises(DataError, match="strictly increasing"):
        BarPanel(np.array(["2024-01-02", "2024-01-01"], dtype="datetime64[us]"), ("A",), {Field.CLOSE: np.ones((2, 1))})
    with pytest.raises(DataError, match="shape"):
        BarPanel(np.array(["2024-01-01"], dtype="datetime64[us]"), ("A",), {Field.CLOSE: np.ones((2, 1))})
