"""Walk-forward windows: test windows tile the out-of-sample span; train, purge, embargo and test never overlap."""

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qt.errors import ConfigError
from qt.validation.windows import Duration, Scheme, walk_forward_windows


def _business_days(n: int, start: str = "2000-01-03") -> np.ndarray:
    return pd.bdate_range(start, periods=n).to_numpy().astype("datetime64[us]")


def _check(stamps, windows, *, embargo: Duration, purge: int, scheme: Scheme, train: Duration) -> None:
    n = len(stamps)
    assert windows[-1].test_end == n
    for a, b in itertools.pairwise(windows):
        assert a.test_end == b.test_start  # contiguous: every out-of-sample bar is tested once
    for w in windows:
        assert 0 <= w.train_start < w.train_end <= w.test_start < w.test_end <= n
        assert set(range(w.train_start, w.train_end)).isdisjoint(range(w.test_start, w.test_end))
        # the purge: `purge` bars between the train window's end and where the embargo is measured from
        nominal_end = w.train_end + purge
        assert nominal_end <= w.test_start
        last_unpurged = stamps[nominal_end - 1]
        if embargo.unit == "d":
            assert w.test_start - nominal_end >= embargo.n  # at least `embargo` bars nobody uses
        else:
            unit = {"y": "years", "m": "months", "w": "weeks"}[embargo.unit]
            assert pd.Timestamp(last_unpurged) + pd.DateOffset(**{unit: embargo.n}) <= pd.Timestamp(
                stamps[w.test_start]
            )
        if scheme is Scheme.EXPANDING:
            assert w.train_start == 0
        elif train.unit == "d" and w.train_start > 0:
            assert nominal_end - w.train_start == train.n


durations = st.one_of(
    st.builds(Duration, st.integers(1, 300), st.just("d")),
    st.builds(Duration, st.integers(1, 3), st.sampled_from(["y", "m", "w"])),
)


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(30, 1500),
    train=durations,
    test=durations,
    embargo=st.one_of(
        st.builds(Duration, st.integers(0, 20), st.just("d")),
        st.builds(Duration, st.integers(1, 2), st.sampled_from(["m", "w"])),
    ),
    purge=st.integers(0, 10),
    scheme=st.sampled_from(list(Scheme)),
)
def test_windows_never_overlap_train_purge_embargo_and_test(n, train, test, embargo, purge, scheme):
    stamps = _business_days(n)
    try:
        windows = walk_forward_windows(stamps, train=train, test=test, scheme=scheme, embargo=embargo, purge=purge)
    except ConfigError as exc:  # too little data for these lengths: must say which key
        assert exc.key in ("validation.train", "validation.embargo", "validation.purge")
        return
    _check(stamps, windows, embargo=embargo, purge=purge, scheme=scheme, train=train)


def test_five_year_train_one_year_test_on_the_calendar():
    stamps = _business_days(2600)  # 2000-01-03 .. 2009-12-18
    ws = walk_forward_windows(stamps, train=Duration(5, "y"), test=Duration(1, "y"))
    day = lambda i: str(stamps[i])[:10]  # noqa: E731
    assert [(day(w.train_start), day(w.train_end - 1), day(w.test_start)) for w in ws[:2]] == [
        ("2000-01-03", "2004-12-31", "2005-01-03"),
        ("2001-01-03", "2006-01-02", "2006-01-03"),  # window 1 trains on all of window 0's test year
    ]
    assert day(ws[-1].test_end - 1) == "2009-12-18" and len(ws) == 5


def test_bars_embargo_and_purge_by_hand():
    stamps = _business_days(20)
    ws = walk_forward_windows(stamps, train=Duration(8, "d"), test=Duration(5, "d"), embargo=Duration(2, "d"), purge=1)
    # train [0, 8) -> test starts 2 bars later at 10; its train ends 2 bars before (8) less 1 purged bar
    assert [(w.train_start, w.train_end, w.test_start, w.test_end) for w in ws] == [
        (0, 7, 10, 15),
        (5, 12, 15, 20),
    ]


def test_expanding_windows_start_at_the_first_bar():
    ws = walk_forward_windows(
        _business_days(30), train=Duration(10, "d"), test=Duration(7, "d"), scheme=Scheme.EXPANDING
    )
    assert [(w.train_start, w.train_end, w.test_start) for w in ws] == [(0, 10, 10), (0, 17, 17), (0, 24, 24)]


@pytest.mark.parametrize("text", ["5", "y5", "5 years", "-1y", "1.5y"])
def test_bad_durations_are_named(text):
    with pytest.raises(ConfigError, match=r"validation\.train: must be a duration"):
        Duration.parse(text, key="validation.train")


def test_a_train_window_longer_than_the_data_is_named():
    with pytest.raises(ConfigError, match=r"validation.train: 10y leaves no bars to test on: the data has 300 bars"):
        walk_forward_windows(_business_days(300), train=Duration(10, "y"), test=Duration(1, "y"))
