"""xmom's scores are causal: truncating the data at any date leaves every earlier score unchanged."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from qt.data.panel import BarPanel
from qt.data.sources.synthetic import SyntheticData
from qt.enums import Field
from qt.strategies.xmom_crosssec import CrossSectionalMomentum

PANEL = SyntheticData(n_assets=12, n_days=400, seed=11, staggered=True).load()


def truncated(panel: BarPanel, end: int) -> BarPanel:
    return BarPanel(panel.timestamps[:end], panel.symbols, {f: a[:end] for f, a in panel.fields.items()})


@settings(max_examples=40, deadline=None)
@given(st.integers(1, PANEL.n_bars), st.sampled_from([(20, 0), (60, 5), (252, 21)]))
def test_scores_do_not_change_when_the_future_is_cut_off(end, window):
    strategy = CrossSectionalMomentum(lookback=window[0], skip=window[1])
    full = strategy.scores(PANEL)
    cut = strategy.scores(truncated(PANEL, end))
    np.testing.assert_array_equal(cut, full[:end])


def test_scores_do_not_change_when_the_future_is_scrambled():
    strategy = CrossSectionalMomentum(lookback=60, skip=5)
    full = strategy.scores(PANEL)
    rng = np.random.default_rng(0)
    for end in rng.integers(1, PANEL.n_bars, 10):
        close = PANEL.close.copy()
        close[end:] = rng.permutation(close[end:].ravel()).reshape(close[end:].shape)
        scrambled = BarPanel(PANEL.timestamps, PANEL.symbols, {**PANEL.fields, Field.CLOSE: close})
        np.testing.assert_array_equal(strategy.scores(scrambled)[:end], full[:end])
