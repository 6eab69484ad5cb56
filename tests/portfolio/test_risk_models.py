"""Risk models: sample, Ledoit-Wolf (vs scikit-learn), EWMA, factor; gaps, short history, PSD repair."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from sklearn.covariance import LedoitWolf as SkLedoitWolf

from qt.portfolio.risk_models import (
    CovarianceRepairWarning,
    EWMACovariance,
    FactorModel,
    LedoitWolf,
    SampleCovariance,
    compress,
    nearest_psd,
    pairwise_cov,
)
from qt.testing.panels import daily_panel


def returns(n=120, p=8, seed=3):
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(p, p)) * 0.3 + np.eye(p)
    return rng.normal(size=(n, p)) @ mix * 0.01


def test_sample_is_numpy_cov_and_the_factor_form_is_exact():
    r = returns()
    est = SampleCovariance(window=200, min_periods=10).fit(r)
    np.testing.assert_allclose(est.cov, np.cov(r.T), rtol=1e-12, atol=1e-18)
    np.testing.assert_allclose(est.loadings @ est.loadings.T + np.diag(est.specific), est.cov, atol=1e-15)


@pytest.mark.parametrize(("n", "p"), [(120, 8), (60, 40), (30, 90)])
def test_ledoit_wolf_equals_scikit_learn(n, p):
    r = returns(n, p)
    est = LedoitWolf(window=500, min_periods=10).fit(r)
    sk = SkLedoitWolf().fit(r)
    np.testing.assert_allclose(est.cov, sk.covariance_, rtol=1e-10, atol=1e-16)
    assert est.shrinkage == pytest.approx(sk.shrinkage_, rel=1e-10)
    np.testing.assert_allclose(est.loadings @ est.loadings.T + np.diag(est.specific), est.cov, atol=1e-14)


def test_more_assets_than_periods_forces_shrinkage_with_a_message(caplog):
    r = returns(30, 90)
    with caplog.at_level(logging.WARNING, logger="qt"):
        est = SampleCovariance(window=500, min_periods=10).fit(r)
    assert "90 assets > 30 periods" in caplog.text and "Ledoit-Wolf" in caplog.text
    np.testing.assert_allclose(est.cov, SkLedoitWolf().fit(r).covariance_, rtol=1e-10, atol=1e-16)
    assert np.linalg.eigvalsh(est.cov).min() > 0


def test_ewma_weights_halve_every_half_life():
    r = returns(50, 3)
    est = EWMACovariance(window=500, min_periods=10, half_life=10).fit(r)
    w = 0.5 ** (np.arange(50)[::-1] / 10)
    w /= w.sum()
    xc = r - w @ r
    np.testing.assert_allclose(est.cov, (xc * w[:, None]).T @ xc, rtol=1e-12)


def test_factor_model_keeps_k_components_and_the_diagonal():
    r = returns(200, 10)
    est = FactorModel(window=500, min_periods=10, n_factors=3).fit(r)
    sample = np.cov(r.T)
    assert est.loadings.shape == (10, 3)
    np.testing.assert_allclose(np.diag(est.cov), np.diag(sample), rtol=1e-10)
    vals = np.sort(np.linalg.eigvalsh(sample))[::-1][:3]
    np.testing.assert_allclose(np.sort(np.linalg.eigvalsh(est.loadings @ est.loadings.T))[::-1][:3], vals, rtol=1e-10)


def test_gaps_are_pairwise_never_zero_filled():
    r = returns(100, 3)
    r[10:40, 0] = np.nan
    cov = pairwise_cov(r, ddof=1)
    both = np.isfinite(r[:, 0])
    assert cov[0, 1] == pytest.approx(np.cov(r[both][:, [0, 1]].T)[0, 1], rel=1e-12)
    assert cov[1, 2] == pytest.approx(np.cov(r[:, [1, 2]].T)[0, 1], rel=1e-12)
    zero_filled = np.cov(np.nan_to_num(r).T)[0, 1]
    assert cov[0, 1] != pytest.approx(zero_filled, rel=1e-6)


def test_short_history_assets_are_left_out_of_the_estimate(ctx_of):
    rng = np.random.default_rng(1)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (120, 3)), axis=0))
    close[:100, 2] = np.nan  # listed 20 bars before the decision
    est = LedoitWolf(window=100, min_periods=60).estimate(ctx_of(daily_panel(close)))
    assert est.assets.tolist() == [0, 1]
    assert est.cov.shape == (2, 2)


def test_non_psd_estimate_is_repaired_with_a_warning():
    bad = np.array([[1.0, 0.9, -0.9], [0.9, 1.0, 0.9], [-0.9, 0.9, 1.0]])
    assert np.linalg.eigvalsh(bad).min() < 0
    with pytest.warns(CovarianceRepairWarning, match="nearest PSD"):
        fixed = nearest_psd(bad)
    assert np.linalg.eigvalsh(fixed).min() > -1e-12
    r = returns(100, 3)
    r[:60, 0] = np.nan
    r[40:, 2] = np.nan  # assets 0 and 2 never overlap much: pairwise estimate may be indefinite
    est = SampleCovariance(window=200, min_periods=30).fit(r)
    assert np.linalg.eigvalsh(est.cov).min() > -1e-12


def test_weekly_frequency_samples_closes_at_week_ends(ctx_of):
    rng = np.random.default_rng(2)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (400, 2)), axis=0))
    panel = daily_panel(close)
    est = SampleCovariance(window=20, min_periods=10, frequency="weekly").estimate(ctx_of(panel))
    assert est.periods_per_year == 52
    stamps = panel.timestamps.astype("datetime64[D]").astype(np.int64)
    last = np.r_[((stamps[1:] + 3) // 7) != ((stamps[:-1] + 3) // 7), True]
    weekly = close[last]
    r = (weekly[1:] / weekly[:-1] - 1)[-20:]
    np.testing.assert_allclose(est.cov, np.cov(r.T), rtol=1e-10)


def test_compress_keeps_the_diagonal():
    b = np.random.default_rng(0).normal(size=(30, 12))
    d = np.full(30, 0.1)
    kept, spec = compress(b, d, 4)
    assert kept.shape == (30, 4)
    np.testing.assert_allclose((kept**2).sum(axis=1) + spec, (b**2).sum(axis=1) + d, rtol=1e-12)


def test_bad_parameters_name_the_field():
    with pytest.raises(ValueError, match="min_periods"):
        LedoitWolf(window=10, min_periods=20)
    with pytest.raises(ValueError, match="half_life"):
        EWMACovariance(half_life=-1)
