"""Risk budgeting on a covariance matrix: inverse volatility and equal risk contributions.

Plain functions shared by the portfolio's heuristic optimizers and the multi-strategy
allocator, so a strategy can budget risk across sleeves without importing the portfolio stage.
"""

from __future__ import annotations

import numpy as np


def inverse_vol(cov: np.ndarray) -> np.ndarray:
    """Weights proportional to 1 / volatility.

    Examples
    --------
    >>> inverse_vol(np.diag([0.04, 0.01])).tolist()
    [0.3333333333333333, 0.6666666666666666]
    """
    inv = 1.0 / np.sqrt(np.diag(cov))
    return np.asarray(inv / inv.sum())


def equal_risk_contribution(cov: np.ndarray, *, tol: float = 1e-12, max_iter: int = 100) -> np.ndarray:
    """Long-only weights whose risk contributions ``w_i (Σw)_i`` are all equal.

    Newton's method on the convex ``½ yᵀΣy - Σ log y_i / n`` (Spinu, 2013), then ``w = y / Σy``.

    Examples
    --------
    >>> equal_risk_contribution(np.diag([0.04, 0.01])).round(6).tolist()
    [0.333333, 0.666667]
    """
    n = cov.shape[0]
    b = np.full(n, 1.0 / n)
    y = 1.0 / np.sqrt(np.diag(cov))
    y *= np.sqrt(1.0 / (y @ cov @ y))
    for _ in range(max_iter):
        grad = cov @ y - b / y
        hess = cov + np.diag(b / y**2)
        step = np.linalg.solve(hess, grad)
        if np.abs(step).max() < tol * max(np.abs(y).max(), 1.0):
            break
        alpha = 1.0
        while np.any(y - alpha * step <= 0):  # stay inside the domain y > 0
            alpha *= 0.5
        y = y - alpha * step
    return np.asarray(y / y.sum())


def risk_contributions(weights: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Each asset's share of portfolio variance: ``w_i (Σw)_i / wᵀΣw``."""
    marginal = cov @ weights
    return np.asarray(weights * marginal / (weights @ marginal))


__all__ = ["equal_risk_contribution", "inverse_vol", "risk_contributions"]
