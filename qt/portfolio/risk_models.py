"""Covariance risk models estimated causally from a decision's price history.

Rule for short histories and gaps (never zero-filled): returns are simple returns of
closes sampled at ``frequency`` over the last ``window`` periods; an asset enters the
estimate only if it has at least ``min_periods`` returns there. Gaps left in the kept
assets are handled pairwise: each covariance entry uses the periods where both assets
have a return, and the result is repaired to the nearest PSD matrix (with a warning).
"""

from __future__ import annotations

import logging
import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator

from qt.context import DecisionContext
from qt.enums import Field as BarField
from qt.enums import Frequency
from qt.rebalancing import period_keys

log = logging.getLogger("qt")

PERIODS_PER_YEAR = {Frequency.DAILY: 252, Frequency.WEEKLY: 52, Frequency.MONTHLY: 12, Frequency.QUARTERLY: 4}


class CovarianceRepairWarning(UserWarning):
    """An estimate was not positive semi-definite and was replaced by the nearest PSD matrix."""


@dataclass(frozen=True)
class RiskEstimate:
    """Covariance of ``assets`` (panel indices) per period, and an exact ``B Bᵀ + diag(d)`` form.

    ``loadings`` [k x m] and ``specific`` [k] satisfy ``cov == loadings @ loadings.T + diag(specific)``.
    """

    assets: np.ndarray
    cov: np.ndarray
    loadings: np.ndarray
    specific: np.ndarray
    periods_per_year: int
    shrinkage: float = 0.0

    @property
    def vol(self) -> np.ndarray:
        """Per-period volatility of each asset."""
        return np.sqrt(np.clip(np.diag(self.cov), 0.0, None))


class RiskModel(BaseModel, ABC):
    """Shared parameters: estimation window (in periods), minimum history, return frequency."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    window: PositiveInt = 252
    min_periods: PositiveInt = 60
    frequency: Frequency = Frequency.DAILY

    @model_validator(mode="after")
    def _history(self) -> RiskModel:
        if self.min_periods > self.window:
            raise ValueError(f"min_periods ({self.min_periods}) must be <= window ({self.window})")
        return self

    def max_columns(self, n_assets: int) -> int:
        """The most columns the exact form ``B`` can have over ``n_assets`` (periods or assets, the fewer)."""
        return min(n_assets, self.window)

    def returns(self, ctx: DecisionContext) -> tuple[np.ndarray, np.ndarray]:
        """Asset indices with enough history, and their returns [periods x assets] (NaN = gap)."""
        if self.frequency is Frequency.DAILY:
            prices = ctx.history(BarField.CLOSE, self.window + 1)
        else:  # closes on the last bar of each period (the decision bar ends the current one)
            stamps = ctx.timestamps()
            keys = period_keys(stamps, self.frequency)
            ends = np.flatnonzero(np.r_[keys[1:] != keys[:-1], True])[-(self.window + 1) :]
            prices = ctx.history(BarField.CLOSE, ctx.t - int(ends[0]) + 1)[ends - ends[0]]
        with np.errstate(divide="ignore", invalid="ignore"):
            rets = prices[1:] / prices[:-1] - 1.0
        rets = rets[-self.window :]
        enough = (np.isfinite(rets).sum(axis=0) >= self.min_periods) & ctx.tradable
        assets = np.flatnonzero(enough)
        return assets, rets[:, assets]

    def estimate(self, ctx: DecisionContext) -> RiskEstimate:
        """The estimate at ``ctx``'s bar over the assets with enough history."""
        assets, rets = self.returns(ctx)
        return self.fit(rets, assets)

    def fit(self, returns: np.ndarray, assets: np.ndarray | None = None) -> RiskEstimate:
        """Estimate from returns [periods x assets]; NaN marks a gap."""
        assets = np.arange(returns.shape[1]) if assets is None else assets
        if returns.shape[1] == 0:
            z = np.zeros((0, 0))
            return RiskEstimate(assets, z, z, np.zeros(0), PERIODS_PER_YEAR[self.frequency])
        return self._fit(np.asarray(returns, dtype=np.float64), assets)

    @abstractmethod
    def _fit(self, returns: np.ndarray, assets: np.ndarray) -> RiskEstimate:
        """The estimate from returns without empty columns."""

    def _finish(
        self,
        cov: np.ndarray,
        assets: np.ndarray,
        shrinkage: float = 0.0,
        form: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> RiskEstimate:
        """PSD check and repair, then the exact low-rank + diagonal form (``form`` if known)."""
        if form is None:
            cov = nearest_psd(0.5 * (cov + cov.T))
            form = factor_form(cov)
        return RiskEstimate(assets, cov, form[0], form[1], PERIODS_PER_YEAR[self.frequency], shrinkage)


class SampleCovariance(RiskModel):
    """The sample covariance (ddof=1); more assets than periods forces Ledoit-Wolf shrinkage.

    Examples
    --------
    >>> r = np.array([[0.01, 0.02], [-0.01, 0.0], [0.02, 0.01]])
    >>> bool(np.allclose(SampleCovariance(min_periods=2).fit(r).cov, np.cov(r.T)))
    True
    """

    def _fit(self, returns: np.ndarray, assets: np.ndarray) -> RiskEstimate:
        if forced_shrinkage(returns):
            cov, s, form = ledoit_wolf(returns)
            return self._finish(cov, assets, s, form)
        return self._finish(pairwise_cov(returns, ddof=1), assets)


class LedoitWolf(RiskModel):
    """Ledoit-Wolf shrinkage toward a scaled identity (the estimator scikit-learn implements).

    Examples
    --------
    >>> r = np.random.default_rng(0).normal(size=(100, 3))
    >>> 0 <= LedoitWolf().fit(r).shrinkage <= 1
    True
    """

    def _fit(self, returns: np.ndarray, assets: np.ndarray) -> RiskEstimate:
        cov, s, form = ledoit_wolf(returns)
        return self._finish(cov, assets, s, form)


class EWMACovariance(RiskModel):
    """Exponentially weighted covariance with weights halving every ``half_life`` periods."""

    half_life: float = Field(63.0, gt=0)

    def _fit(self, returns: np.ndarray, assets: np.ndarray) -> RiskEstimate:
        if forced_shrinkage(returns):
            cov, s, form = ledoit_wolf(returns)
            return self._finish(cov, assets, s, form)
        n = returns.shape[0]
        weights = 0.5 ** (np.arange(n)[::-1] / self.half_life)
        return self._finish(pairwise_cov(returns, ddof=0, weights=weights), assets)


class FactorModel(RiskModel):
    """Statistical factor model: the top ``n_factors`` principal components + diagonal specific risk."""

    n_factors: PositiveInt = 5

    def max_columns(self, n_assets: int) -> int:
        """One column per factor."""
        return min(n_assets, self.n_factors)

    def _fit(self, returns: np.ndarray, assets: np.ndarray) -> RiskEstimate:
        sample = nearest_psd(pairwise_cov(returns, ddof=1))
        vals, vecs = np.linalg.eigh(sample)
        k = min(self.n_factors, len(vals))
        top = np.argsort(vals)[::-1][:k]
        loadings = vecs[:, top] * np.sqrt(np.clip(vals[top], 0.0, None))
        floor = 1e-12 * max(float(np.trace(sample)), 1e-300)
        specific = np.clip(np.diag(sample) - (loadings**2).sum(axis=1), floor, None)
        cov = loadings @ loadings.T + np.diag(specific)
        return RiskEstimate(assets, cov, loadings, specific, PERIODS_PER_YEAR[self.frequency])


def forced_shrinkage(returns: np.ndarray) -> bool:
    """True (with a logged message) when there are more assets than periods."""
    n, p = returns.shape
    if p > n:
        log.warning("risk model: %d assets > %d periods, so the estimate is Ledoit-Wolf shrunk instead", p, n)
        return True
    return False


def pairwise_cov(returns: np.ndarray, *, ddof: int, weights: np.ndarray | None = None) -> np.ndarray:
    """Covariance where entry (i, j) uses the periods both i and j have returns (weighted if given)."""
    mask = np.isfinite(returns)
    w = np.ones(returns.shape[0]) if weights is None else weights
    if mask.all():
        mu = (w @ returns) / w.sum()
        xc = returns - mu
        cov = (xc * w[:, None]).T @ xc / w.sum()
        if weights is None:
            cov *= returns.shape[0] / max(returns.shape[0] - ddof, 1)
        return np.asarray(cov)
    x = np.where(mask, returns, 0.0)
    m = mask.astype(np.float64) * w[:, None]
    mf = mask.astype(np.float64)
    n_ij = m.T @ mf  # weight of periods where both i and j are present
    s_i = (x * w[:, None]).T @ mf  # sum of x_i over periods where j is present
    s_ij = (x * w[:, None]).T @ x
    with np.errstate(divide="ignore", invalid="ignore"):
        cov = s_ij / n_ij - (s_i / n_ij) * (s_i.T / n_ij)
        if weights is None:
            cov *= n_ij / np.maximum(n_ij - ddof, 1.0)
    return np.where(n_ij > ddof, cov, 0.0)


def ledoit_wolf(returns: np.ndarray) -> tuple[np.ndarray, float, tuple[np.ndarray, np.ndarray] | None]:
    """Ledoit-Wolf (2004) shrunk covariance (ddof=0), its intensity and, without gaps, its B Bᵀ + d form.

    Gaps: the intensity comes from the complete periods, the sample part is pairwise.
    """
    complete = returns[np.isfinite(returns).all(axis=1)]
    if complete.shape[0] < 2:
        complete = np.where(np.isfinite(returns), returns, np.nanmean(returns, axis=0))
        log.warning("risk model: too few complete periods for the shrinkage intensity; gaps set to the mean")
    x = complete - complete.mean(axis=0)
    n, p = x.shape
    x2 = x**2
    emp_trace = x2.sum(axis=0) / n
    mu = emp_trace.sum() / p
    gram = x.T @ x
    beta_ = float((x2.T @ x2).sum())
    delta_ = float((gram**2).sum()) / n**2
    beta = (beta_ / n - delta_) / (p * n)
    delta = (delta_ - 2.0 * mu * emp_trace.sum() + p * mu**2) / p
    beta = min(beta, delta)
    shrink = 0.0 if beta == 0 else beta / delta
    gaps = complete.shape[0] != returns.shape[0]
    emp = pairwise_cov(returns, ddof=0) if gaps else gram / n
    mu_all = float(np.trace(emp)) / p
    cov = (1.0 - shrink) * emp
    cov[np.diag_indices_from(cov)] += shrink * mu_all
    form = None
    if not gaps and n < p:  # low rank: (1-s)/n XᵀX + s mu I, exactly
        form = (np.sqrt((1.0 - shrink) / n) * x.T, np.full(p, shrink * mu_all))
    return cov, float(shrink), form


def nearest_psd(cov: np.ndarray, *, warn: bool = True) -> np.ndarray:
    """``cov`` if it is PSD (to rounding), else its eigenvalues clipped at 0 (warns when ``warn``)."""
    if cov.size == 0:
        return cov
    vals, vecs = np.linalg.eigh(cov)
    tol = 1e-10 * max(float(np.abs(vals).max()), 1e-300)
    if vals.min() >= -tol:
        return cov
    if warn:
        msg = f"covariance not PSD (min eigenvalue {vals.min():.3g}); replaced by the nearest PSD matrix"
        warnings.warn(msg, CovarianceRepairWarning, stacklevel=3)
        log.warning("risk model: %s", msg)
    fixed = (vecs * np.clip(vals, 0.0, None)) @ vecs.T
    return np.asarray(0.5 * (fixed + fixed.T))


def factor_form(cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``B`` [n x n] with ``B Bᵀ == cov`` (cov PSD) and a zero diagonal remainder."""
    vals, vecs = np.linalg.eigh(cov)
    return vecs * np.sqrt(np.clip(vals, 0.0, None)), np.zeros(cov.shape[0])


def compress(loadings: np.ndarray, specific: np.ndarray, n_factors: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep the top ``n_factors`` principal directions of ``B Bᵀ``; the rest of each variance moves to ``d``.

    The diagonal (every asset's variance) is kept exactly.
    """
    if loadings.shape[1] <= n_factors:
        return loadings, specific
    vals, vecs = np.linalg.eigh(loadings.T @ loadings)
    top = np.argsort(vals)[::-1][:n_factors]
    kept = loadings @ vecs[:, top]
    residual = np.clip((loadings**2).sum(axis=1) - (kept**2).sum(axis=1), 0.0, None)
    return kept, specific + residual


def exact_rows(loadings: np.ndarray) -> np.ndarray:
    """``loadings`` with at most as many columns as rows and the same ``B Bᵀ`` (exact: QR of ``Bᵀ``).

    The rows of a universe smaller than the factor count need no more columns than rows.

    Examples
    --------
    >>> b = np.arange(6.0).reshape(2, 3)
    >>> bool(np.allclose(exact_rows(b) @ exact_rows(b).T, b @ b.T)) and exact_rows(b).shape == (2, 2)
    True
    """
    m, k = loadings.shape
    if k <= m:
        return loadings
    r = np.asarray(np.linalg.qr(loadings.T, mode="r"))
    return r.T
