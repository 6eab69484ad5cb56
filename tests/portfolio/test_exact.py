"""Convex optimizers with default settings solve the exact problem: the same as a dense cvxpy solve.

The reference builds Σ densely and independently (scikit-learn's Ledoit-Wolf of the same
252 daily returns, annualized), maps scores to expected returns by hand and solves with cvxpy
on the dense matrix. ``max_factors`` is the documented approximation (docs/portfolio.md).
"""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest
from sklearn.covariance import LedoitWolf as SkLedoitWolf

from qt.context import DecisionContext
from qt.portfolio.convex.max_sharpe import MaxSharpe
from qt.portfolio.convex.mean_variance import MeanVariance
from qt.portfolio.convex.min_variance import MinVariance
from qt.testing.panels import daily_panel
from qt.types import TargetPositions


def factor_panel(n_assets: int, seed: int, n_bars: int = 300):
    """Prices with a market factor, five sectors and idiosyncratic noise of varied size."""
    rng = np.random.default_rng(seed)
    beta = rng.normal(1.0, 0.3, n_assets)
    sector = rng.integers(0, 5, n_assets)
    f = rng.normal(0.0, 0.01, (n_bars, 6))
    idio = rng.normal(0.0, 0.015, (n_bars, n_assets)) * rng.uniform(0.5, 2.0, n_assets)
    rets = f[:, :1] * beta + 0.8 * f[:, 1:][:, sector] + idio
    return daily_panel(100 * np.exp(np.cumsum(rets, axis=0)))


def decision(n_assets: int, seed: int):
    panel = factor_panel(n_assets, seed)
    t = panel.n_bars - 1
    ctx = DecisionContext(t, panel.timestamps[t], 1e6, np.zeros(n_assets), panel)
    scores = np.random.default_rng(seed + 1).normal(size=n_assets)
    target = TargetPositions(panel.timestamps[t], np.ones(n_assets), scores)
    close = panel.close[-253:]
    returns = close[1:] / close[:-1] - 1.0
    sigma = SkLedoitWolf().fit(returns).covariance_ * 252  # dense, annualized
    z = np.clip((scores - scores.mean()) / scores.std(), -3, 3)
    mu = 0.05 * np.sqrt(np.diag(sigma)) * z  # ic x annual vol x z-score
    return ctx, target, sigma, mu


def dense(kind: str, sigma: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """The same problem on the dense Σ, long only and fully invested."""
    n = len(mu)
    w = cp.Variable(n)
    risk = cp.quad_form(w, cp.psd_wrap(sigma))
    if kind == "minvar":
        cp.Problem(cp.Minimize(risk), [cp.sum(w) == 1, w >= 0]).solve(solver="CLARABEL")
        return np.asarray(w.value)
    if kind == "meanvar":
        cp.Problem(cp.Maximize(mu @ w - risk), [cp.sum(w) == 1, w >= 0]).solve(solver="CLARABEL")
        return np.asarray(w.value)
    kappa = cp.Variable(nonneg=True)  # max Sharpe: min yΣy s.t. mu.y = 1, sum(y) = kappa, y >= 0
    cp.Problem(cp.Minimize(risk), [mu @ w == 1, cp.sum(w) == kappa, w >= 0]).solve(solver="CLARABEL")
    return np.asarray(w.value / kappa.value)


OPTIMIZERS = {"minvar": MinVariance, "meanvar": MeanVariance, "maxsharpe": MaxSharpe}


@pytest.mark.parametrize("n_assets", [100, 300])
@pytest.mark.parametrize("kind", list(OPTIMIZERS))
def test_default_settings_solve_the_exact_problem(kind, n_assets):
    ctx, target, sigma, mu = decision(n_assets, seed=n_assets)
    got = OPTIMIZERS[kind]().weights(target, ctx)
    assert got.report.status == "optimal" and got.report.solver == "CLARABEL"
    expected = dense(kind, sigma, mu)
    assert np.abs(got.weights - expected).max() < 1e-4
    assert (expected > 1e-3).sum() >= 5  # a real allocation, not a corner


@pytest.mark.parametrize("n_assets", [100, 300])
@pytest.mark.parametrize("kind", ["minvar", "meanvar"])
def test_the_yaml_default_active_set_solver_solves_the_exact_problem(kind, n_assets):
    """conf/portfolio/{minvar,meanvar}.yaml choose qt's active-set solver."""
    ctx, target, sigma, mu = decision(n_assets, seed=n_assets)
    got = OPTIMIZERS[kind](solver="ACTIVE_SET").weights(target, ctx)
    assert got.report.status == "optimal" and got.report.solver == "ACTIVE_SET"
    expected = dense(kind, sigma, mu)
    assert np.abs(got.weights - expected).max() < 1e-4
    assert (expected > 1e-3).sum() >= 5  # a real allocation, not a corner


def test_max_factors_is_the_documented_approximation():
    """docs/portfolio.md: max_factors 20 moves weights by up to 5 points, min variance's true variance by < 7 %."""
    ctx, target, sigma, _ = decision(100, seed=1)
    exact = MinVariance().weights(target, ctx).weights
    approx = MinVariance(max_factors=20).weights(target, ctx).weights
    gap = np.abs(exact - approx).max()
    excess = (approx @ sigma @ approx) / (exact @ sigma @ exact) - 1.0
    assert 0.005 < gap < 0.05  # it is an approximation, within the bound
    assert 0.0 < excess < 0.07


def test_the_factor_model_enters_exactly_with_one_column_per_factor():
    from qt.portfolio.risk_models import FactorModel

    ctx, target, _, _ = decision(100, seed=2)
    opt = MinVariance(risk_model=FactorModel(n_factors=3))
    got = opt.weights(target, ctx).weights
    assert [key[1] for key in opt._cache] == [3]  # compiled with 3 factor columns
    est = FactorModel(n_factors=3).estimate(ctx)
    sigma = (est.loadings @ est.loadings.T + np.diag(est.specific)) * 252  # factors + specific variance
    np.testing.assert_allclose(got, dense("minvar", sigma, np.zeros(100)), atol=1e-4)
