"""Minimum variance: the least risky book the constraints allow."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qt.portfolio.convex.base import ConvexOptimizer, Quadratic

if TYPE_CHECKING:
    from qt.portfolio.convex.problem import Goal, Terms


class MinVariance(ConvexOptimizer):
    """Minimize ``wᵀΣw`` under the constraints (Σ exactly as the risk model estimates it).

    Examples
    --------
    >>> MinVariance(universe="selected").universe
    'selected'
    """

    def objective(self, x: Terms) -> Goal:
        """Portfolio variance."""
        import cvxpy as cp

        return cp.Minimize(x.risk), []

    def quadratic(self) -> Quadratic:
        """Variance alone."""
        return Quadratic(1.0, 0.0)
