"""Expected returns from a strategy's scores: the mapping the mean-variance optimizers use.

``mu_i = ic x vol_i x z_i`` (Grinold's "alpha = IC x volatility x score"): ``z`` is the
cross-sectional z-score of the scores over the universe, clipped at ±3, ``vol`` the
annualized volatility from the risk model, ``ic`` the assumed information coefficient.
"""

from __future__ import annotations

import numpy as np


def expected_returns(scores: np.ndarray, vol: np.ndarray, ic: float) -> np.ndarray:
    """Annualized alphas ``ic x vol x z`` (Grinold): z = cross-sectional z-score of scores, clipped at ±3.

    Examples
    --------
    >>> expected_returns(np.array([1.0, 2.0, 3.0]), np.array([0.2, 0.2, 0.2]), 0.1).round(4).tolist()
    [-0.0245, 0.0, 0.0245]
    """
    sd = scores.std()
    z = np.clip((scores - scores.mean()) / sd, -3.0, 3.0) if sd > 0 else np.zeros_like(scores)
    return np.asarray(ic * vol * z)
