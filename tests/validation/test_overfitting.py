"""Deflated Sharpe ratio and PBO (CSCV) against the papers' closed forms and a small case worked by hand."""

import math

import numpy as np
import pytest
from scipy.stats import norm

from qt.errors import QtError
from qt.validation.overfitting import (
    EULER_GAMMA,
    deflated_sharpe,
    deflated_sharpe_of,
    expected_max_sharpe,
    probability_of_overfitting,
)


def test_dsr_matches_the_numerical_example_of_bailey_and_lopez_de_prado_2014():
    # the paper: annual SR 2.5 over 1250 daily bars, N=100 trials with annualized V[SR]=0.5,
    # skew -3, kurtosis 10 -> SR0 = 0.1132 per day and DSR = 0.9004
    d = deflated_sharpe(
        2.5 / math.sqrt(250), n_trials=100, trials_variance=0.5 / 250, n_bars=1250, skew=-3, kurtosis=10
    )
    assert d.expected_max_sharpe == pytest.approx(0.1132, abs=5e-5)
    assert d.dsr == pytest.approx(0.9004, abs=5e-5)


def test_dsr_equals_its_closed_form_with_scipy_norm():
    sr, n, v, t, g3, g4 = 0.1, 10, 0.0025, 250, -0.5, 4.0
    sr0 = math.sqrt(v) * (
        (1 - 0.5772156649015329) * norm.ppf(1 - 1 / n) + 0.5772156649015329 * norm.ppf(1 - 1 / (n * math.e))
    )
    expected = norm.cdf((sr - sr0) * math.sqrt(t - 1) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2))
    d = deflated_sharpe(sr, n_trials=n, trials_variance=v, n_bars=t, skew=g3, kurtosis=g4)
    assert d.expected_max_sharpe == pytest.approx(sr0, rel=1e-12)
    assert d.dsr == pytest.approx(expected, rel=1e-12)
    assert EULER_GAMMA == pytest.approx(0.5772156649015329)


def test_one_trial_is_the_probabilistic_sharpe_ratio_against_zero():
    # N = 1: nothing to deflate, SR0 = 0; normal returns (skew 0, kurtosis 3): Phi(SR sqrt(T-1) / sqrt(1 + SR^2 / 2))
    assert expected_max_sharpe(1, 0.3) == 0.0
    d = deflated_sharpe(0.05, n_trials=1, trials_variance=0.0, n_bars=401, skew=0.0, kurtosis=3.0)
    assert d.dsr == pytest.approx(norm.cdf(0.05 * 20 / math.sqrt(1 + 0.05**2 / 2)), rel=1e-12)


def test_dsr_of_returns_uses_their_moments_and_the_trials_variance():
    r = np.array([0.01, -0.02, 0.03, 0.0, 0.015, -0.005, 0.02, -0.01])
    trials = np.array([0.1, 0.3, 0.2])
    d = deflated_sharpe_of(r, trials)
    m, s = r.mean(), r.std(ddof=1)
    c = r - m
    skew = (c**3).mean() / (c**2).mean() ** 1.5  # population moments, as in the paper
    kurt = (c**4).mean() / (c**2).mean() ** 2
    assert (d.sharpe, d.n_trials, d.n_bars) == (pytest.approx(m / s), 3, 8)
    assert d.trials_variance == pytest.approx(0.01)  # var of 0.1, 0.3, 0.2 with ddof=1
    assert (d.skew, d.kurtosis) == (pytest.approx(skew), pytest.approx(kurt))


def _hand_matrix() -> np.ndarray:
    """4 configurations x 8 bars in S=4 blocks of 2 bars: block b's bars are mean +- 1 (in %).

    Block means: config a has c_a + s_a * u_b with u = (3, 1, -1, -3) and s_a = +-1, so in any
    half (two blocks) every configuration has the same standard deviation and the Sharpe
    ratio ranks them exactly as their means do.
    A: c=0, s=+1; B: c=0, s=-1; C: c=1.5, s=+1; D: c=-0.25, s=-1.
    """
    u = np.array([3.0, 1.0, -1.0, -3.0])
    means = np.column_stack([u, -u, 1.5 + u, -0.25 - u])  # [blocks x configs]
    rows = np.repeat(means, 2, axis=0) + np.tile([[1.0], [-1.0]], (4, 1))
    return rows / 100.0


def test_pbo_of_a_four_by_eight_matrix_enumerated_by_hand():
    # With U = the mean of u over the in-sample blocks (out of sample it is -U), the half means are
    # A: U, B: -U, C: 1.5 + U, D: -0.25 - U. The 6 in-sample choices of 2 blocks of 4:
    #   {0,1} U=2 : IS A2 B-2 C3.5 D-2.25 -> C; OOS A-2 B2 C-0.5 D1.75 -> C ranks 2 of 4 -> w=2/5, logit ln(2/3)
    #   {0,2} U=1 : IS A1 B-1 C2.5 D-1.25 -> C; OOS A-1 B1 C0.5 D0.75 -> C ranks 2      -> ln(2/3)
    #   {0,3} U=0 : IS A0 B0 C1.5 D-0.25  -> C; OOS the same             -> C ranks 4 -> w=4/5, ln(4)
    #   {1,2} U=0 : as above                                                             -> ln(4)
    #   {1,3} U=-1: IS A-1 B1 C0.5 D0.75  -> B; OOS A1 B-1 C2.5 D-1.25   -> B ranks 2  -> ln(2/3)
    #   {2,3} U=-2: IS A-2 B2 C-0.5 D1.75 -> B; OOS A2 B-2 C3.5 D-2.25   -> B ranks 2  -> ln(2/3)
    # PBO = #(logit <= 0) / 6 = 4/6
    out = probability_of_overfitting(_hand_matrix(), partitions=4)
    low, high = math.log(2 / 3), math.log(4)
    assert out.logits == pytest.approx((low, low, high, high, low, low))
    assert out.pbo == pytest.approx(4 / 6)
    assert (out.n_partitions, out.n_configs, out.n_bars_used) == (4, 4, 8)


def test_pbo_drops_the_earliest_rows_that_do_not_fill_a_block():
    m = np.vstack([np.full((3, 4), 99.0), _hand_matrix()])  # 11 rows, S=4 -> blocks of 2, first 3 rows dropped
    assert probability_of_overfitting(m, partitions=4).pbo == pytest.approx(4 / 6)


def test_a_configuration_that_always_wins_is_never_overfit():
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 0.01, size=(64, 5))
    m = noise.copy()
    m[:, 2] = np.abs(noise[:, 2]) + 0.05  # best in every block and every half
    assert probability_of_overfitting(m, partitions=8).pbo == 0.0


def test_bad_inputs_are_named():
    with pytest.raises(QtError, match="even"):
        probability_of_overfitting(np.zeros((16, 3)), partitions=3)
    with pytest.raises(QtError, match="at least 2 configurations"):
        probability_of_overfitting(np.zeros((16, 1)), partitions=4)
    with pytest.raises(QtError, match="at least 8 bars"):
        probability_of_overfitting(np.zeros((7, 3)), partitions=4)


def test_the_dsr_of_every_column_equals_each_column_deflated_on_its_own():
    from qt.validation.overfitting import deflated_sharpe_of, deflated_sharpes_of_columns, sharpe_per_bar

    m = np.random.default_rng(3).normal(0.0003, 0.01, (800, 7))
    sharpes = np.array([sharpe_per_bar(m[:, j]) for j in range(7)])
    for j, d in enumerate(deflated_sharpes_of_columns(m)):
        alone = deflated_sharpe_of(m[:, j], sharpes)
        assert d.n_trials == alone.n_trials == 7 and d.n_bars == alone.n_bars == 800
        assert d.dsr == pytest.approx(alone.dsr, abs=1e-13) and d.skew == pytest.approx(alone.skew, abs=1e-13)
