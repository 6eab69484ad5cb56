"""Maximum Sharpe ratio, made convex by homogenizing (Cornuéjols and Tütüncü)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from qt.portfolio.convex.base import ConvexOptimizer

if TYPE_CHECKING:
    from qt.portfolio.convex.problem import Goal, Terms


class MaxSharpe(ConvexOptimizer):
    """Maximize ``mu·w / sqrt(wᵀΣw)``: minimize ``yᵀΣy`` s.t. ``mu·y = 1`` with ``w = y / kappa``.

    The constraints are scaled by kappa (``Σy = kappa·net``, bounds x kappa). Fails when no book
    has a positive expected return.

    Examples
    --------
    >>> MaxSharpe().homogeneous
    True
    """

    universe: Literal["selected", "scored"] = "scored"
    homogeneous: ClassVar[bool] = True

    def objective(self, x: Terms) -> Goal:
        """Variance of the scaled book, at unit expected return."""
        import cvxpy as cp

        return cp.Minimize(x.risk), [x.mu @ x.w == 1.0]
