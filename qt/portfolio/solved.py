"""The convex optimizers: mean-variance, minimum variance, maximum Sharpe (cvxpy, imported lazily)."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, Literal

import numpy as np
from pydantic import Field, NonNegativeFloat, PositiveInt, field_validator

from qt.context import DecisionContext
from qt.portfolio.base import FallbackStep, Solver
from qt.portfolio.expected_returns import expected_returns
from qt.portfolio.risk_based import RiskBased
from qt.portfolio.risk_models import RiskEstimate, compress
from qt.types import TargetPositions


class _Convex(RiskBased):
    """A cvxpy problem compiled once per (panel size, factor count) and re-solved with new parameters.

    ``max_factors``: the covariance enters as its top principal directions plus the exact diagonal
    (solve time grows fast with the factor count); null keeps the full exact form.
    """

    ic: float = Field(0.05, gt=0, le=1)
    max_factors: PositiveInt | None = 20

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
    def objective(self) -> Any:
        """The problem's Objective."""

    def problem_options(self) -> dict[str, float]:
        """Extra keyword arguments of ConvexProblem (risk aversion, turnover penalty)."""
        return {}

    def problem(self, ctx: DecisionContext, k: int, *, relaxed: bool) -> Any:
        """The compiled problem for this panel and ``k`` factors, built on first use."""
        from qt.portfolio.convex import ConvexProblem

        key = (len(ctx.symbols), k, relaxed)
        if key not in self._cache:
            rows = [
                (lim.row(ctx.symbols, self.constraints.groups), lim.relation, lim.bound)
                for lim in self.constraints.limits
            ]
            self._cache[key] = ConvexProblem(
                objective=self.objective(),
                n=len(ctx.symbols),
                k=k,
                constraints=self.constraints,
                group_rows=rows,
                relaxed=relaxed,
                **self.problem_options(),
            )
        return self._cache[key]

    def allocate(
        self,
        target: TargetPositions,
        ctx: DecisionContext,
        estimate: RiskEstimate,
        idx: np.ndarray,
        solver: str,
        *,
        relaxed: bool,
    ) -> tuple[np.ndarray | None, str, float]:
        """Solve over the full panel with assets outside the universe bounded to 0."""
        n = len(ctx.symbols)
        assets = estimate.assets[idx]
        ppy = estimate.periods_per_year
        sub_b, sub_d = estimate.loadings[idx], estimate.specific[idx]
        if self.max_factors is not None:
            sub_b, sub_d = compress(sub_b, sub_d, self.max_factors)
        k = sub_b.shape[1] if self.max_factors is None else self.max_factors
        loadings = np.zeros((n, max(k, 1)))
        loadings[assets, : sub_b.shape[1]] = sub_b * np.sqrt(ppy)
        specific = np.zeros(n)
        specific[assets] = sub_d * ppy
        mu = np.zeros(n)
        scores = target.scores[assets]
        ok = np.isfinite(scores)
        mu[assets[ok]] = expected_returns(scores[ok], estimate.vol[idx][ok] * np.sqrt(ppy), self.ic)
        lower, upper = np.zeros(n), np.zeros(n)
        lower[assets] = self.constraints.lower(len(assets))
        upper[assets] = self.constraints.upper(len(assets))
        for sym, (lo, hi) in self.constraints.bounds.items():
            if sym in ctx.symbols:
                i = ctx.symbols.index(sym)
                lower[i], upper[i] = (max(lower[i], lo), min(upper[i], hi)) if upper[i] or lower[i] else (0.0, 0.0)
        before = np.nan_to_num(ctx.weights)
        problem = self.problem(ctx, loadings.shape[1], relaxed=relaxed)
        kw = {"loadings": loadings, "specific": specific, "mu": mu, "before": before, "solver": solver}
        sol = problem.solve(lower=lower, upper=upper, **kw)
        total_ms = sol.solve_ms
        limit = self.constraints.max_names
        if sol.weights is not None and limit is not None and (np.abs(sol.weights) > 1e-6).sum() > limit:
            keep = np.argsort(-np.abs(sol.weights))[:limit]  # heuristic: keep the largest names, re-solve
            drop = np.ones(n, bool)
            drop[keep] = False
            sol = problem.solve(lower=np.where(drop, 0.0, lower), upper=np.where(drop, 0.0, upper), **kw)
            total_ms += sol.solve_ms
        weights = None if sol.weights is None else np.where(np.abs(sol.weights) < 1e-9, 0.0, sol.weights)
        return weights, sol.status, total_ms


class MeanVariance(_Convex):
    """Maximize ``mu·w - risk_aversion·wᵀΣw - turnover_penalty·|w - w_before|₁`` (annualized units).

    ``mu`` from the strategy's scores (``ic x vol x z-score``), ``Σ`` from the risk model.
    """

    universe: Literal["selected", "scored"] = "scored"
    risk_aversion: NonNegativeFloat = 1.0
    turnover_penalty: NonNegativeFloat = 0.0

    def objective(self) -> Any:
        """Mean-variance."""
        from qt.portfolio.convex import Objective

        return Objective.MEAN_VARIANCE

    def problem_options(self) -> dict[str, float]:
        """Risk aversion and turnover penalty are compiled into the problem."""
        return {"risk_aversion": self.risk_aversion, "turnover_penalty": self.turnover_penalty}


class MinVariance(_Convex):
    """Minimize ``wᵀΣw`` under the constraints."""

    def objective(self) -> Any:
        """Minimum variance."""
        from qt.portfolio.convex import Objective

        return Objective.MIN_VARIANCE


class MaxSharpe(_Convex):
    """Maximize ``mu·w / sqrt(wᵀΣw)`` by the homogenizing transform ``w = y / kappa`` (Cornuéjols-Tütüncü)."""

    universe: Literal["selected", "scored"] = "scored"

    def objective(self) -> Any:
        """Maximum Sharpe."""
        from qt.portfolio.convex import Objective

        return Objective.MAX_SHARPE
