"""Every portfolio constructor by name, from the family module where it lives.

| family | module | constructors |
|---|---|---|
| naive | ``qt.portfolio.naive`` | EqualWeight |
| heuristic | ``qt.portfolio.heuristics`` | InverseVolatility, RiskParity, HierarchicalRiskParity |
| convex | ``qt.portfolio.convex`` | MeanVariance (``mean_variance``), MinVariance (``min_variance``), MaxSharpe (``max_sharpe``) |

Importing this module does not import cvxpy: the convex ones import it when they first solve.
"""

from qt.portfolio.convex import ConvexOptimizer, MaxSharpe, MeanVariance, MinVariance
from qt.portfolio.expected_returns import expected_returns
from qt.portfolio.heuristics import HierarchicalRiskParity, InverseVolatility, RiskParity
from qt.portfolio.naive import EqualWeight
from qt.portfolio.risk_based import RiskBased

__all__ = [
    "ConvexOptimizer",
    "EqualWeight",
    "HierarchicalRiskParity",
    "InverseVolatility",
    "MaxSharpe",
    "MeanVariance",
    "MinVariance",
    "RiskBased",
    "RiskParity",
    "expected_returns",
]
