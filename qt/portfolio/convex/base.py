"""The base of convex optimizers: expected returns, the exact risk form, the compiled problem, the hook.

A convex optimizer is a subclass that says what it optimizes in ``objective(terms)``; the base
builds the cvxpy problem once per (panel size, factor count), refills its Parameters at each
decision and solves. cvxpy is imported only when a problem is first built.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from pydantic import Field, PositiveInt, field_validator

from qt.portfolio.base import Allocated, Allocation, FallbackStep, Solver
from qt.portfolio.expected_returns import expected_returns
from qt.portfolio.risk_based import RiskBased
from qt.portfolio.risk_models import compress, exact_rows

BIG = 10.0  # stands in for an infinite weight bound (homogenized max Sharpe multiplies bounds by kappa)

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
        return max(self.risk_model.max_columns(n), needed, 1)

    def quadratic(self) -> Quadratic | None:
        """The objective as ``risk_aversion·wᵀΣw − mu_weight·mu·w + turnover_penalty·‖w − w₀‖₁`` (minimized).

        None (the default) when it is not of that form; then only cvxpy solves it.
        """
        return None

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
        data = _Data(loadings, specific, mu, np.nan_to_num(ctx.weights), *self.bounds(job))
        weights, status, ms, used = self.solve(job, data)
        limit = self.constraints.max_names
        if weights is not None and limit is not None and (np.abs(weights) > 1e-6).sum() > limit:
            drop = np.ones(n, bool)
            drop[np.argsort(-np.abs(weights))[:limit]] = False  # heuristic: keep the largest names, re-solve
            fewer = _Data(loadings, specific, mu, data.before, *(np.where(drop, 0.0, b) for b in data.box))
            weights, status, more_ms, used = self.solve(job, fewer)
            ms += more_ms
        weights = None if weights is None else np.where(np.abs(weights) < 1e-9, 0.0, weights)
        return Allocated(weights, status, ms, used if used != job.solver else None)

    def solve(self, job: Allocation, data: _Data) -> tuple[np.ndarray | None, str, float, str]:
        """Weights, status, milliseconds and the solver used: qt's active set where it applies, else cvxpy."""
        solver = job.solver
        if solver == Solver.ACTIVE_SET:
            form = self.quadratic() if self.fits_box_qp(relaxed=job.relaxed) else None
            spent = 0.0
            if form is not None:
                weights, spent = _active_set(form, data, self.constraints.net)
                if weights is not None:
                    return weights, "optimal", spent, solver
            weights, status, ms, used = self.solve(job.retry(solver=Solver.CLARABEL.value, relaxed=job.relaxed), data)
            return weights, status, spent + ms, used
        problem = self.problem(len(job.ctx.symbols), data.loadings.shape[1], job.ctx.symbols, relaxed=job.relaxed)
        lower, upper = data.box
        sol = problem.solve(
            loadings=data.loadings, specific=data.specific, mu=data.mu, before=data.before,
            lower=lower, upper=upper, solver=solver,
        )  # fmt: skip
        return sol.weights, sol.status, sol.solve_ms, solver

    def fits_box_qp(self, *, relaxed: bool) -> bool:
        """Whether the constraints are only bounds and the budget (the relaxed problem drops the rest but gross)."""
        c = self.constraints
        dropped = relaxed or (not c.group_limits and c.max_turnover is None and c.target_vol is None)
        return c.max_gross is None and dropped

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


@dataclass(frozen=True)
class Quadratic:
    """A convex objective of the box-QP form qt's active-set solver handles (see ``ConvexOptimizer.quadratic``)."""

    risk_aversion: float
    mu_weight: float
    turnover_penalty: float = 0.0


@dataclass(frozen=True)
class _Data:
    """One decision's numbers over the panel: annualized B and d, mu, the book held, bounds."""

    loadings: np.ndarray
    specific: np.ndarray
    mu: np.ndarray
    before: np.ndarray
    lower: np.ndarray
    upper: np.ndarray

    @property
    def box(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds."""
        return self.lower, self.upper


def _active_set(form: Quadratic, data: _Data, net: float) -> tuple[np.ndarray | None, float]:
    """Solve with qt's active-set solver; the weights (None if unverified) and milliseconds."""
    from qt.portfolio.convex.active_set import BoxQP, solve

    start = time.perf_counter()
    lower, upper = np.clip(data.lower, -BIG, BIG), np.clip(data.upper, -BIG, BIG)
    problem = BoxQP(
        data.loadings, data.specific, form.risk_aversion, form.mu_weight * data.mu, net, lower, upper,
        data.before, form.turnover_penalty,
    )  # fmt: skip
    weights = solve(problem)
    return weights, (time.perf_counter() - start) * 1e3
