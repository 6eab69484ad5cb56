"""The base of convex optimizers: expected returns, the exact risk form, the compiled problem, the hook.

A convex optimizer is a subclass that says what it optimizes in ``objective(terms)``; the base
builds the cvxpy problem once per (panel size, factor count), refills its Parameters at each
decision and solves. cvxpy is imported only when a problem is first built.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from pydantic import Field, PositiveInt, field_validator

from qt.portfolio.base import Allocated, Allocation, FallbackStep, Solver
from qt.portfolio.expected_returns import expected_returns
from qt.portfolio.risk_based import RiskBased
from qt.portfolio.risk_models import compress, exact_rows

if TYPE_CHECKING:
    from qt.portfolio.convex.problem import ConvexProblem, Goal, Terms


class ConvexOptimizer(RiskBased):
    """A cvxpy problem compiled once and re-solved with new numbers at every decision.

    Risk is the risk model's covariance exactly, in its factored form ``B Bᵀ + diag(d)``
    (at most min(assets, window) columns). ``max_factors`` opts into an approximation: the top
    principal directions of ``B Bᵀ`` plus the exact diagonal (faster, see docs/portfolio.md for
    its measured error). ``ic`` maps the strategy's scores to expected returns.
    """

    ic: float = Field(0.05, gt=0, le=1)
    max_factors: PositiveInt | None = None
    homogeneous: ClassVar[bool] = False  # True: solve in y = kappa·w (max Sharpe), bounds scale with kappa

    @field_validator("solver")
    @classmethod
    def _installed(cls, v: Solver) -> Solver:
        if not v.installed:
            raise ValueError(f"solver {v.value} is not installed; pip install {v.value.lower()} or pick another")
        return v

    @field_validator("fallback")
    @classmethod
    def _fallback_installed(cls, v: list[FallbackStep]) -> list[FallbackStep]:
        for step in v:
            if step.value in Solver.__members__ and not Solver(step.value).installed:
                raise ValueError(f"fallback solver {step.value} is not installed")
        return v

    @abstractmethod
    def objective(self, x: Terms) -> Goal:
        """What to optimize over ``x`` (weights, risk, mu, ...): ``(cp.Minimize|cp.Maximize, extra constraints)``."""

    def problem(self, n: int, k: int, symbols: tuple[str, ...], *, relaxed: bool) -> ConvexProblem:
        """The compiled problem for ``n`` assets and ``k`` factor columns, built on first use."""
        from qt.portfolio.convex.problem import ConvexProblem

        key = (n, k, relaxed)
        if key not in self._cache:
            rows = [
                (lim.row(symbols, self.constraints.groups), lim.relation, lim.bound) for lim in self.constraints.limits
            ]
            self._cache[key] = ConvexProblem(
                objective=self.objective,
                homogeneous=self.homogeneous,
                n=n,
                k=k,
                constraints=self.constraints,
                group_rows=rows,
                relaxed=relaxed,
            )
        return self._cache[key]

    def columns(self, n: int, needed: int) -> int:
        """Factor columns of the compiled problem: fixed per panel so that re-solves never recompile."""
        if self.max_factors is not None:
            return self.max_factors
        return max(min(n, self.risk_model.window), needed, 1)

    def allocate(self, job: Allocation) -> Allocated:
        """Solve over the full panel with assets outside the universe bounded to 0."""
        ctx, est, assets = job.ctx, job.estimate, job.assets
        n = len(ctx.symbols)
        ppy = est.periods_per_year
        sub_b, sub_d = est.loadings[job.members], est.specific[job.members]
        if self.max_factors is not None:
            sub_b, sub_d = compress(sub_b, sub_d, self.max_factors)
        else:
            sub_b = exact_rows(sub_b)
        loadings = np.zeros((n, self.columns(n, sub_b.shape[1])))
        loadings[assets, : sub_b.shape[1]] = sub_b * np.sqrt(ppy)
        specific = np.zeros(n)
        specific[assets] = sub_d * ppy
        mu = np.zeros(n)
        scores = job.target.scores[assets]
        ok = np.isfinite(scores)
        mu[assets[ok]] = expected_returns(scores[ok], est.vol[job.members][ok] * np.sqrt(ppy), self.ic)
        lower, upper = self.bounds(job)
        problem = self.problem(n, loadings.shape[1], ctx.symbols, relaxed=job.relaxed)
        kw = {"loadings": loadings, "specific": specific, "mu": mu, "before": np.nan_to_num(ctx.weights)}
        sol = problem.solve(lower=lower, upper=upper, solver=job.solver, **kw)
        total_ms = sol.solve_ms
        limit = self.constraints.max_names
        if sol.weights is not None and limit is not None and (np.abs(sol.weights) > 1e-6).sum() > limit:
            keep = np.argsort(-np.abs(sol.weights))[:limit]  # heuristic: keep the largest names, re-solve
            drop = np.ones(n, bool)
            drop[keep] = False
            sol = problem.solve(
                lower=np.where(drop, 0.0, lower), upper=np.where(drop, 0.0, upper), solver=job.solver, **kw
            )
            total_ms += sol.solve_ms
        weights = None if sol.weights is None else np.where(np.abs(sol.weights) < 1e-9, 0.0, sol.weights)
        return Allocated(weights, sol.status, total_ms)

    def bounds(self, job: Allocation) -> tuple[np.ndarray, np.ndarray]:
        """Per-asset lower and upper bounds over the panel: the constraints' inside the universe, 0 outside."""
        symbols, assets = job.ctx.symbols, job.assets
        n = len(symbols)
        lower, upper = np.zeros(n), np.zeros(n)
        lower[assets] = self.constraints.lower(len(assets))
        upper[assets] = self.constraints.upper(len(assets))
        for sym, (lo, hi) in self.constraints.bounds.items():
            if sym in symbols:
                i = symbols.index(sym)
                lower[i], upper[i] = (max(lower[i], lo), min(upper[i], hi)) if upper[i] or lower[i] else (0.0, 0.0)
        return lower, upper
