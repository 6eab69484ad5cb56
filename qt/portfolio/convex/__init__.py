"""Convex optimizers (cvxpy): one module per objective over a shared base.

``mean_variance.MeanVariance``, ``min_variance.MinVariance``, ``max_sharpe.MaxSharpe``; a new one
is a subclass of ``base.ConvexOptimizer`` with an ``objective`` hook, in its own file.
"""

from qt.portfolio.convex.base import ConvexOptimizer
from qt.portfolio.convex.max_sharpe import MaxSharpe
from qt.portfolio.convex.mean_variance import MeanVariance
from qt.portfolio.convex.min_variance import MinVariance

__all__ = ["ConvexOptimizer", "MaxSharpe", "MeanVariance", "MinVariance"]
