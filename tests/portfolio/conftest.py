"""Hand-made panels and decision contexts for the portfolio tests."""

from __future__ import annotations

import numpy as np
import pytest

from qt.context import DecisionContext
from qt.testing.panels import daily_panel
from qt.types import TargetPositions


def random_panel(n_bars: int = 300, n_assets: int = 6, seed: int = 0):
    rng = np.random.default_rng(seed)
    scale = np.linspace(0.5, 2.0, n_assets)
    close = 100 * np.exp(np.cumsum(rng.normal(0.0002, 0.01, (n_bars, n_assets)) * scale, axis=0))
    return daily_panel(close)


def context(panel, t: int | None = None, weights=None) -> DecisionContext:
    t = panel.n_bars - 1 if t is None else t
    held = np.zeros(panel.n_assets) if weights is None else np.asarray(weights, dtype=float)
    return DecisionContext(t, panel.timestamps[t], 1e6, held, panel)


def target(panel, weights=None, scores=None, t: int | None = None) -> TargetPositions:
    t = panel.n_bars - 1 if t is None else t
    n = panel.n_assets
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    s = np.linspace(-1.0, 1.0, n) if scores is None else np.asarray(scores, dtype=float)
    return TargetPositions(panel.timestamps[t], w, s)


@pytest.fixture
def panel():
    return random_panel()


@pytest.fixture
def ctx_of():
    """context(panel, t=None, weights=None) -> DecisionContext."""
    return context


@pytest.fixture
def target_of():
    """target(panel, weights=None, scores=None, t=None) -> TargetPositions."""
    return target
