"""Heuristic constructors (no solver): inverse volatility, risk parity (ERC), hierarchical risk parity.

The classes allocate over the decision's universe with a risk model's covariance. Their rules
(long-only weights summing to 1 over the covariance's assets): inverse volatility and equal risk
contribution from ``qt.risk_budget`` (shared with the multi-strategy allocator), HRP below.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar

import numpy as np

from qt.portfolio.base import Allocated, Allocation
from qt.portfolio.risk_based import RiskBased
from qt.risk_budget import equal_risk_contribution, inverse_vol


class Heuristic(RiskBased):
    """Closed-form or iterative allocations: long only, sum to ``constraints.net``, capped at max_weight.

    Only ``max_weight`` and ``net`` of the constraints apply; the excess over the cap is spread pro rata.
    """

    uses_solver: ClassVar[bool] = False

    def allocate(self, job: Allocation) -> Allocated:
        """The rule over the universe's covariance, capped; the job's solver and relaxation do not apply."""
        if job.members.size == 0:
            return Allocated(np.zeros(0), "empty universe: cash")
        return Allocated(cap_weights(self.rule(job.cov), self.constraints.max_weight, self.constraints.net), "optimal")

    @abstractmethod
    def rule(self, cov: np.ndarray) -> np.ndarray:
        """Weights summing to 1 from the universe's covariance."""


class InverseVolatility(Heuristic):
    """Weights proportional to 1 / volatility of each asset in the universe."""

    def rule(self, cov: np.ndarray) -> np.ndarray:
        """1/vol, normalized."""
        return inverse_vol(cov)


class RiskParity(Heuristic):
    """Equal risk contribution (ERC) weights, long only."""

    def rule(self, cov: np.ndarray) -> np.ndarray:
        """ERC by Newton's method."""
        return equal_risk_contribution(cov)


class HierarchicalRiskParity(Heuristic):
    """Hierarchical risk parity (López de Prado): tree clustering and recursive bisection."""

    def rule(self, cov: np.ndarray) -> np.ndarray:
        """HRP weights."""
        return hrp(cov)


def hrp(cov: np.ndarray) -> np.ndarray:
    """Hierarchical risk parity (López de Prado, 2016): single-linkage tree, quasi-diagonal order, bisection.

    Distance ``sqrt((1 - corr) / 2)``; each split gives the halves ``1 - v_left / (v_left + v_right)``
    and its complement, with ``v`` the inverse-variance portfolio's variance of a half.
    """
    n = cov.shape[0]
    if n == 1:
        return np.ones(1)
    order = quasi_diagonal_order(cov)
    weights = np.ones(n)
    clusters = [order]
    while clusters:
        nxt = []
        for items in clusters:
            if len(items) < 2:
                continue
            half = len(items) // 2
            left, right = items[:half], items[half:]
            v_left, v_right = _cluster_var(cov, left), _cluster_var(cov, right)
            alpha = 1.0 - v_left / (v_left + v_right)
            weights[left] *= alpha
            weights[right] *= 1.0 - alpha
            nxt += [left, right]
        clusters = nxt
    return weights / weights.sum()


def quasi_diagonal_order(cov: np.ndarray) -> list[int]:
    """Leaves of the single-linkage tree on correlation distance, left to right."""
    from scipy.cluster.hierarchy import leaves_list, linkage
    from scipy.spatial.distance import squareform

    vol = np.sqrt(np.diag(cov))
    corr = np.clip(cov / np.outer(vol, vol), -1.0, 1.0)
    dist = np.sqrt(np.clip((1.0 - corr) / 2.0, 0.0, None))
    np.fill_diagonal(dist, 0.0)
    tree = linkage(squareform(dist, checks=False), method="single")
    return [int(i) for i in leaves_list(tree)]


def _cluster_var(cov: np.ndarray, items: list[int]) -> float:
    sub = cov[np.ix_(items, items)]
    ivp = 1.0 / np.diag(sub)
    ivp /= ivp.sum()
    return float(ivp @ sub @ ivp)


def cap_weights(weights: np.ndarray, cap: float | None, total: float = 1.0) -> np.ndarray:
    """Long-only weights summing to ``total`` with none above ``cap``: the excess is spread pro rata.

    Examples
    --------
    >>> cap_weights(np.array([0.7, 0.2, 0.1]), 0.5).round(6).tolist()
    [0.5, 0.333333, 0.166667]
    """
    w = weights * (total / weights.sum())
    if cap is None or cap * len(w) < total - 1e-12:
        return w
    for _ in range(len(w)):
        over = w > cap + 1e-15
        if not over.any():
            break
        excess = float((w[over] - cap).sum())
        w[over] = cap
        free = w < cap - 1e-15
        w[free] += excess * w[free] / w[free].sum()
    return w
