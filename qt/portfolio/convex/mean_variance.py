"""Mean-variance: expected return minus a risk penalty and a turnover penalty."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import NonNegativeFloat

from qt.portfolio.convex.base import ConvexOptimizer, Quadratic

if TYPE_CHECKING:
    from qt.portfolio.convex.problem import Goal, Terms


class MeanVariance(ConvexOptimizer):
    """Maximize ``mu·w - risk_aversion·wᵀΣw - turnover_penalty·|w - w_before|₁`` (annualized units).

    ``mu`` from the strategy's scores (``ic x vol x z-score``), ``Σ`` from the risk model, exactly.

    Examples
    --------
    >>> MeanVariance(risk_aversion=5.0).max_factors is None  # the exact covariance by default
    True
    """

    universe: Literal["selected", "scored"] = "scored"
    risk_aversion: NonNegativeFloat = 1.0
    turnover_penalty: NonNegativeFloat = 0.0

    def objective(self, x: Terms) -> Goal:
        """Utility: return minus risk minus turnover cost."""
        import cvxpy as cp

        utility = x.mu @ x.w - self.risk_aversion * x.risk
        if self.turnover_penalty > 0:
            utility = utility - self.turnover_penalty * cp.norm1(x.w - x.before)
        return cp.Maximize(utility), []

    def quadratic(self) -> Quadratic | None:
        """Risk aversion, mu and the turnover penalty (None without risk aversion: a linear program)."""
        if self.risk_aversion <= 0:
            return None
        return Quadratic(self.risk_aversion, 1.0, self.turnover_penalty)
