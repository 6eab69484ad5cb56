"""Feature engineering on [T x N] panels: returns, rolling moments, z-scores, ranks, winsorizing, EWMA.

Every function is vectorized over assets and causal (row t uses rows <= t only); NaN
means "no value" and propagates rather than being filled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

ANNUALIZATION = 252


def lag(x: np.ndarray, periods: int) -> np.ndarray:
    """``x`` shifted down by ``periods`` rows (NaN-padded); periods must be >= 0.

    Examples
    --------
    >>> lag(np.array([[1.0], [2.0], [3.0]]), 1).ravel().tolist()
    [nan, 1.0, 2.0]
    """
    if periods < 0:
        raise ValueError(f"periods must be >= 0 (a negative lag looks ahead), got {periods}")
    out = np.full(x.shape, np.nan)
    if periods < x.shape[0]:
        out[periods:] = x[: x.shape[0] - periods]
    return out


def simple_returns(close: np.ndarray, horizon: int = 1, skip: int = 0) -> np.ndarray:
    """close[t - skip] / close[t - horizon] - 1.

    Examples
    --------
    >>> simple_returns(np.array([[1.0], [2.0], [3.0]])).ravel().tolist()
    [nan, 1.0, 0.5]
    """
    if not 0 <= skip < horizon:
        raise ValueError(f"need 0 <= skip < horizon, got skip={skip}, horizon={horizon}")
    with np.errstate(invalid="ignore", divide="ignore"):
        return lag(close, skip) / lag(close, horizon) - 1.0


def log_returns(close: np.ndarray, horizon: int = 1) -> np.ndarray:
    """log(close[t] / close[t - horizon])."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.log(close / lag(close, horizon))


def multi_horizon_returns(close: np.ndarray, horizons: Sequence[int]) -> dict[int, np.ndarray]:
    """Simple returns over each horizon, keyed by horizon."""
    return {h: simple_returns(close, h) for h in horizons}


def _window_sums(x: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sum and count of finite values of (x - center) per trailing window, and the center (a past value)."""
    valid = np.isfinite(x)
    first = np.argmax(valid, axis=0)
    center = np.where(valid.any(axis=0), x[first, np.arange(x.shape[1])], 0.0)  # a past value: limits cancellation
    z = np.where(valid, x - center, 0.0)
    zero = np.zeros((1, x.shape[1]))
    s1 = np.concatenate([zero, np.cumsum(z, axis=0)])
    n = np.concatenate([zero, np.cumsum(valid, axis=0, dtype=np.float64)])
    lo = np.maximum(np.arange(1, x.shape[0] + 1) - window, 0)
    hi = np.arange(1, x.shape[0] + 1)
    return s1[hi] - s1[lo], n[hi] - n[lo], center


def rolling_mean(x: np.ndarray, window: int) -> np.ndarray:
    """Mean of the trailing ``window`` rows; NaN unless all of them are finite."""
    s1, n, center = _window_sums(x, window)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n == window, s1 / window + center, np.nan)


def rolling_std(x: np.ndarray, window: int, ddof: int = 1) -> np.ndarray:
    """Standard deviation of the trailing ``window`` rows (``ddof`` as in pandas); NaN unless all are finite.

    pandas' online algorithm: no cancellation when the spread is tiny next to the level.
    """
    import pandas as pd

    if window <= ddof:
        raise ValueError(f"window must exceed ddof ({ddof}), got {window}")
    return pd.DataFrame(x).rolling(window, min_periods=window).std(ddof=ddof).to_numpy(dtype=np.float64)


def rolling_max(x: np.ndarray, window: int) -> np.ndarray:
    """Maximum of the trailing ``window`` rows; NaN unless all are finite."""
    import pandas as pd

    return pd.DataFrame(x).rolling(window, min_periods=window).max().to_numpy(dtype=np.float64)


def rolling_volatility(close: np.ndarray, window: int, annualize: bool = True) -> np.ndarray:
    """Standard deviation of daily simple returns over ``window`` bars (x sqrt(252) when annualized)."""
    vol = rolling_std(simple_returns(close, 1), window)
    return vol * np.sqrt(ANNUALIZATION) if annualize else vol


def ts_zscore(x: np.ndarray, window: int) -> np.ndarray:
    """(x - trailing mean) / trailing std over ``window`` rows, per asset."""
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (x - rolling_mean(x, window)) / rolling_std(x, window)
    return np.where(np.isfinite(z), z, np.nan)


def cs_zscore(x: np.ndarray) -> np.ndarray:
    """(x - row mean) / row std (ddof=0) across assets; NaN where fewer than 2 values or no dispersion."""
    n = np.isfinite(x).sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nansum(x, axis=1, keepdims=True) / n
        std = np.sqrt(np.nansum((x - mean) ** 2, axis=1, keepdims=True) / n)
        z = (x - mean) / std
    return np.where((n >= 2) & (std > 0) & np.isfinite(x), z, np.nan)


def cs_rank(x: np.ndarray) -> np.ndarray:
    """Cross-sectional percentile rank in [0, 1] (ties averaged); NaN stays NaN."""
    import pandas as pd

    ranks = pd.DataFrame(x).rank(axis=1, method="average").to_numpy(dtype=np.float64)
    n = np.isfinite(x).sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 1, (ranks - 1.0) / (n - 1.0), np.where(np.isfinite(x), 0.5, np.nan))


def winsorize(x: np.ndarray, lower: float = 0.01, upper: float = 0.99) -> np.ndarray:
    """Clip each row at its ``lower`` and ``upper`` cross-sectional quantiles."""
    if not 0.0 <= lower < upper <= 1.0:
        raise ValueError(f"need 0 <= lower < upper <= 1, got {lower}, {upper}")
    rows = np.isfinite(x).any(axis=1)
    out = np.full(x.shape, np.nan)
    if rows.any():
        lo = np.nanquantile(x[rows], lower, axis=1, keepdims=True)
        hi = np.nanquantile(x[rows], upper, axis=1, keepdims=True)
        out[rows] = np.clip(x[rows], lo, hi)
    return out


def demean(x: np.ndarray) -> np.ndarray:
    """Each row minus its cross-sectional mean."""
    n = np.isfinite(x).sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return x - np.nansum(x, axis=1, keepdims=True) / n


def neutralize(x: np.ndarray, symbols: Sequence[str], groups: Mapping[str, str]) -> np.ndarray:
    """Each value minus the mean of its group (symbols missing from ``groups`` form one group ``_other``)."""
    labels = np.array([groups.get(s, "_other") for s in symbols], dtype=object)
    out = np.full(x.shape, np.nan)
    for g in np.unique(labels):
        cols = labels == g
        out[:, cols] = demean(x[:, cols])
    return out


def ewma(x: np.ndarray, halflife: float) -> np.ndarray:
    """Exponentially weighted mean, y_t = a x_t + (1 - a) y_(t-1), a = 1 - 0.5^(1/halflife).

    Starts at each asset's first finite value; a NaN row leaves the state unchanged and outputs NaN.
    """
    if halflife <= 0:
        raise ValueError(f"halflife must be > 0, got {halflife}")
    alpha = 1.0 - 0.5 ** (1.0 / halflife)
    out = np.full(x.shape, np.nan)
    state = np.full(x.shape[1], np.nan)
    for t in range(x.shape[0]):
        row = x[t]
        ok = np.isfinite(row)
        state = np.where(ok, np.where(np.isfinite(state), alpha * row + (1.0 - alpha) * state, row), state)
        out[t] = np.where(ok, state, np.nan)
    return out
