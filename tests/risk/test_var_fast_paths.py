"""ValueAtRisk.measure's shortcuts give the very floats of numpy's quantile and the six public functions."""

from __future__ import annotations

import numpy as np

from qt.risk import models
from qt.risk.models import ValueAtRisk


def test_linear_quantile_is_numpy_quantile_bit_for_bit() -> None:
    rng = np.random.default_rng(5)
    for i in range(3000):
        n = int(rng.integers(1, 300))
        x = rng.normal(0, 0.01, n)
        if i % 2:  # ties, and signed zeros whose order a partition decides
            x = np.round(x * 100) / 100
            zero = rng.random(n) < 0.3
            x[zero] = np.where(rng.random(int(zero.sum())) < 0.5, -0.0, 0.0)
        if i % 50 == 0:
            x[0] = np.nan
        q = float(rng.choice([0.0, 0.01, 0.05, 0.5, 1.0, rng.random()]))
        assert np.array(models._linear_quantile(x, q)).tobytes() == np.array(np.quantile(x, q)).tobytes()


class _Ctx:
    def __init__(self, prices: np.ndarray) -> None:
        self.prices = prices

    def history(self, field: object, n: int) -> np.ndarray:
        return self.prices[-n:]


def test_measure_equals_the_public_functions() -> None:
    rng = np.random.default_rng(1)
    for _ in range(200):
        t, n = int(rng.integers(25, 300)), int(rng.integers(1, 30))
        prices = np.cumprod(1 + rng.normal(0, 0.02, (t, n)), axis=0)
        w = rng.random(n) * (rng.random(n) < 0.6)
        c = float(rng.choice([0.9, 0.95, 0.99]))
        got = ValueAtRisk(confidence=c).measure(w, _Ctx(prices))
        held = np.flatnonzero(w != 0)
        if held.size == 0:
            assert set(got.values()) == {0.0}
            continue
        p = prices[-253:][:, held]
        rets = p[1:] / p[:-1] - 1.0
        book = rets[np.isfinite(rets).all(axis=1)] @ w[held]  # as measure builds it (a matmul's last bit can
        # depend on its operand's memory layout)
        mu, sigma = float(book.mean()), float(book.std(ddof=1))
        assert got == {
            "var_historical": models.historical_var(book, c),
            "cvar_historical": models.historical_cvar(book, c),
            "var_parametric": models.parametric_var(mu, sigma, c),
            "cvar_parametric": models.parametric_cvar(mu, sigma, c),
            "var_cornish_fisher": models.cornish_fisher_var(book, c),
            "cvar_cornish_fisher": models.cornish_fisher_cvar(book, c),
        }
