"""VaR and CVaR: parametric against the normal closed form, historical against the empirical quantile."""

from __future__ import annotations

import numpy as np
import pytest

from qt.context import DecisionContext
from qt.risk.models import (
    ValueAtRisk,
    cornish_fisher_cvar,
    cornish_fisher_var,
    historical_cvar,
    historical_var,
    parametric_cvar,
    parametric_var,
)
from qt.testing.panels import daily_panel


def test_parametric_var_and_cvar_are_the_normal_closed_form():
    # z_0.01 = -2.326347874, phi(z) = exp(-z^2 / 2) / sqrt(2 pi) = 0.0266521422
    assert parametric_var(0.001, 0.02, 0.99) == pytest.approx(-0.001 + 0.02 * 2.326347874, abs=1e-9)
    assert parametric_cvar(0.001, 0.02, 0.99) == pytest.approx(-0.001 + 0.02 * 0.0266521422 / 0.01, abs=1e-9)
    assert parametric_var(0.0, 1.0, 0.95) == pytest.approx(1.644853627, abs=1e-9)


def test_historical_var_is_the_empirical_quantile():
    r = np.arange(1, 101) / 1000.0 - 0.05  # -0.049 .. 0.05
    assert historical_var(r, 0.95) == pytest.approx(-np.quantile(r, 0.05))
    assert historical_var(r, 0.95) == pytest.approx(0.04405)  # between -0.045 and -0.044, linear
    assert historical_cvar(r, 0.95) == pytest.approx(-np.mean(r[:5]))


def test_cornish_fisher_is_normal_for_normal_moments_and_fatter_for_fat_tails():
    rng = np.random.default_rng(0)
    normal = rng.normal(0, 0.01, 200_000)
    assert cornish_fisher_var(normal, 0.99) == pytest.approx(
        parametric_var(normal.mean(), normal.std(ddof=1), 0.99), rel=5e-3
    )
    assert cornish_fisher_cvar(normal, 0.99) == pytest.approx(
        parametric_cvar(normal.mean(), normal.std(ddof=1), 0.99), rel=5e-3
    )
    fat = rng.standard_t(4, 200_000) * 0.01
    assert cornish_fisher_var(fat, 0.99) > parametric_var(fat.mean(), fat.std(ddof=1), 0.99)


def test_value_at_risk_of_a_book_uses_its_past_returns_only():
    rng = np.random.default_rng(1)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (300, 3)), axis=0))
    close[200:, 2] *= 10  # after the decision: must not matter
    panel = daily_panel(close)
    ctx = DecisionContext(150, panel.timestamps[150], 1e6, np.zeros(3), panel)
    w = np.array([0.5, 0.5, 0.0])
    got = ValueAtRisk(confidence=0.95, window=100).measure(w, ctx)
    rets = close[50:151, :2]
    book = (rets[1:] / rets[:-1] - 1) @ w[:2]
    assert got["var_historical"] == pytest.approx(-np.quantile(book, 0.05))
    assert got["var_parametric"] == pytest.approx(parametric_var(book.mean(), book.std(ddof=1), 0.95))
    assert ValueAtRisk().measure(np.zeros(3), ctx)["var_historical"] == 0.0
