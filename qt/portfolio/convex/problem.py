"""cvxpy problems built once with Parameters (DPP) and re-solved at every rebalance.

Risk enters as ``||Bᵀw||² + ||sqrt(d)·w||²`` with ``B`` and ``d`` Parameters: the risk
model's exact low-rank + diagonal form (annualized), so a re-solve only refills numbers.
Assets outside the decision's universe get the bounds ``0 <= w <= 0``. The objective is
the optimizer's hook: it receives the ``Terms`` and returns what to optimize.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cvxpy as cp
import numpy as np

from qt.portfolio.constraints import Constraints
from qt.portfolio.convex.base import BIG

SOLVER_OPTIONS: dict[str, dict[str, Any]] = {}  # per-solver keyword arguments of Problem.solve


@dataclass(frozen=True)
class Terms:
    """The pieces an objective hook combines (all annualized).

    ``w`` the weights (for a homogeneous problem the scaled ``y = kappa·w``), ``risk`` the
    exact ``wᵀΣw``, ``mu`` expected returns, ``before`` the book held before the decision,
    ``scale`` kappa (1 unless homogeneous).
    """

    w: Any
    risk: Any
    mu: Any
    before: Any
    scale: Any


Goal = tuple[Any, list[Any]]  # (cp.Minimize | cp.Maximize, constraints the objective adds)


@dataclass(frozen=True)
class Solution:
    """Weights (None when the solver failed), the solver's status and the solve time."""

    weights: np.ndarray | None
    status: str
    solve_ms: float


class ConvexProblem:
    """One compiled problem for a fixed panel size ``n``, factor count ``k`` and constraint set."""

    def __init__(
        self,
        *,
        objective: Callable[[Terms], Goal],
        homogeneous: bool,
        n: int,
        k: int,
        constraints: Constraints,
        group_rows: list[tuple[np.ndarray, str, float]],
        relaxed: bool = False,
    ) -> None:
        self.n, self.k = n, k
        self.loadings = cp.Parameter((n, k), name="loadings")
        self.sqrt_specific = cp.Parameter(n, nonneg=True, name="sqrt_specific")
        self.mu = cp.Parameter(n, name="mu")
        self.before = cp.Parameter(n, name="before")
        self.lower = cp.Parameter(n, name="lower")
        self.upper = cp.Parameter(n, name="upper")
        self.w = w = cp.Variable(n, name="w")
        self.kappa = cp.Variable(nonneg=True, name="kappa") if homogeneous else None
        scale = self.kappa if self.kappa is not None else 1.0
        factor_part = self.loadings.T @ w
        specific_part = cp.multiply(self.sqrt_specific, w)
        risk = cp.sum_squares(factor_part) + cp.sum_squares(specific_part)
        c = constraints
        cons = [cp.sum(w) == c.net * scale, w >= cp.multiply(self.lower, scale), w <= cp.multiply(self.upper, scale)]
        if c.max_gross is not None:
            cons.append(cp.norm1(w) <= c.max_gross * scale)
        if not relaxed:
            for row, relation, bound in group_rows:
                expr, rhs = row @ w, bound * scale
                cons.append(expr <= rhs if relation == "<=" else expr >= rhs if relation == ">=" else expr == rhs)
            if c.max_turnover is not None:
                cons.append(cp.norm1(w - cp.multiply(self.before, scale)) <= c.max_turnover * scale)
            if c.target_vol is not None:
                cons.append(cp.norm(cp.hstack([factor_part, specific_part]), 2) <= c.target_vol * scale)
        goal, extra = objective(Terms(w=w, risk=risk, mu=self.mu, before=self.before, scale=scale))
        problem = cp.Problem(goal, cons + extra)
        if not problem.is_dpp():
            raise TypeError("portfolio problem is not DPP; it would be recompiled at every rebalance")
        self.problem = problem

    def solve(
        self,
        *,
        loadings: np.ndarray,
        specific: np.ndarray,
        mu: np.ndarray,
        before: np.ndarray,
        lower: np.ndarray,
        upper: np.ndarray,
        solver: str,
    ) -> Solution:
        """Fill the parameters (padding ``loadings`` to k columns) and solve with ``solver``."""
        padded = np.zeros((self.n, self.k))
        padded[:, : loadings.shape[1]] = loadings
        self.loadings.value = padded
        self.sqrt_specific.value = np.sqrt(np.clip(specific, 0.0, None))
        self.mu.value = mu
        self.before.value = before
        self.lower.value = np.clip(lower, -BIG, BIG)
        self.upper.value = np.clip(upper, -BIG, BIG)
        start = time.perf_counter()
        try:
            self.problem.solve(solver=solver, warm_start=True, **SOLVER_OPTIONS.get(solver, {}))
            status = str(self.problem.status)
        except cp.error.SolverError as exc:
            status = f"solver error: {exc}"
        ms = (time.perf_counter() - start) * 1e3
        if status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) or self.w.value is None:
            return Solution(None, status, ms)
        w = np.asarray(self.w.value, dtype=np.float64)
        if self.kappa is not None:
            k = float(self.kappa.value) if self.kappa.value is not None else 0.0
            if k <= 1e-12:
                return Solution(None, "unbounded: no portfolio with positive expected return", ms)
            w = w / k
        w[(upper == 0) & (lower == 0)] = 0.0
        return Solution(w, status, ms)
