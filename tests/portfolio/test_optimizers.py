"""Optimizers against closed forms and hand-worked examples; limits of mean-variance; fallbacks."""

from __future__ import annotations

import numpy as np
import pytest

from qt.portfolio.base import OptimizationError
from qt.portfolio.constraints import Constraints
from qt.portfolio.expected_returns import expected_returns
from qt.portfolio.heuristics import hrp, quasi_diagonal_order
from qt.portfolio.optimizers import (
    EqualWeight,
    HierarchicalRiskParity,
    InverseVolatility,
    MaxSharpe,
    MeanVariance,
    MinVariance,
    RiskParity,
)
from qt.portfolio.risk_models import SampleCovariance
from qt.risk_budget import equal_risk_contribution, risk_contributions

RM = SampleCovariance(window=250, min_periods=100)


def cov_of(panel, ctx_of):
    est = RM.estimate(ctx_of(panel))
    return est.cov * est.periods_per_year


def test_min_variance_unconstrained_is_the_closed_form(panel, ctx_of, target_of):
    opt = MinVariance(risk_model=RM, constraints=Constraints(long_only=False), max_factors=None)
    chosen = opt.weights(target_of(panel), ctx_of(panel))
    w = chosen.weights
    cov = cov_of(panel, ctx_of)
    closed = np.linalg.solve(cov, np.ones(6))
    np.testing.assert_allclose(w, closed / closed.sum(), atol=1e-6)
    report = chosen.report
    assert report is not None and report.status == "optimal" and report.solver == "CLARABEL"


def test_min_variance_reuses_the_compiled_problem(panel, ctx_of, target_of):
    opt = MinVariance(risk_model=RM, constraints=Constraints(long_only=False))
    opt.weights(target_of(panel), ctx_of(panel, t=280))
    first = next(iter(opt._cache.values()))
    opt.weights(target_of(panel, t=299), ctx_of(panel))
    assert len(opt._cache) == 1 and next(iter(opt._cache.values())) is first
    assert first.problem.is_dpp()


def test_risk_aversion_to_infinity_approaches_min_variance(panel, ctx_of, target_of):
    ctx, tgt = ctx_of(panel), target_of(panel)
    minvar = MinVariance(risk_model=RM, universe="scored").weights(tgt, ctx).weights
    gaps = []
    for aversion in (1.0, 100.0, 1e5):
        w = MeanVariance(risk_model=RM, risk_aversion=aversion).weights(tgt, ctx).weights
        gaps.append(np.abs(w - minvar).max())
    assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 1e-4


def test_huge_turnover_penalty_does_not_trade(panel, ctx_of, target_of):
    held = np.array([0.3, 0.1, 0.2, 0.1, 0.2, 0.1])
    opt = MeanVariance(risk_model=RM, risk_aversion=1.0, turnover_penalty=1e3)
    w = opt.weights(target_of(panel), ctx_of(panel, weights=held)).weights
    np.testing.assert_allclose(w, held, atol=1e-6)
    free = MeanVariance(risk_model=RM, risk_aversion=1.0).weights(target_of(panel), ctx_of(panel, weights=held))
    assert np.abs(free.weights - held).sum() > 0.1


def test_mean_variance_respects_caps_and_budget(panel, ctx_of, target_of):
    opt = MeanVariance(risk_model=RM, constraints=Constraints(max_weight=0.25), risk_aversion=0.1)
    w = opt.weights(target_of(panel), ctx_of(panel)).weights
    assert w.sum() == pytest.approx(1.0, abs=1e-7)
    assert w.max() <= 0.25 + 1e-7 and w.min() >= -1e-9
    assert w[-1] == pytest.approx(0.25, abs=1e-6)  # highest score, cap binds


def test_max_sharpe_is_the_tangency_portfolio_on_its_support(panel, ctx_of, target_of):
    opt = MaxSharpe(risk_model=RM, max_factors=None)
    tgt = target_of(panel, scores=[0.1, 0.5, 0.2, 0.9, 0.3, 0.4])
    w = opt.weights(tgt, ctx_of(panel)).weights
    cov = cov_of(panel, ctx_of)
    est = RM.estimate(ctx_of(panel))
    mu = expected_returns(tgt.scores, est.vol * np.sqrt(252), 0.05)
    s = np.flatnonzero(w > 1e-6)
    assert 1 <= s.size < 6
    closed = np.linalg.solve(cov[np.ix_(s, s)], mu[s])  # long only: Σ⁻¹μ on the support
    np.testing.assert_allclose(w[s], closed / closed.sum(), atol=1e-6)
    sharpe = lambda x: (mu @ x) / np.sqrt(x @ cov @ x)  # noqa: E731
    rand = np.random.default_rng(0).dirichlet(np.ones(6), size=2000)
    assert sharpe(w) >= max(sharpe(x) for x in rand)


def test_expected_returns_mapping_is_ic_times_vol_times_zscore():
    mu = expected_returns(np.array([1.0, 2.0, 3.0, 10.0]), np.array([0.1, 0.2, 0.3, 0.4]), 0.05)
    z = np.array([1.0, 2.0, 3.0, 10.0])
    z = (z - z.mean()) / z.std()
    np.testing.assert_allclose(mu, 0.05 * np.array([0.1, 0.2, 0.3, 0.4]) * z)


def test_risk_parity_equalizes_risk_contributions(panel, ctx_of, target_of):
    w = RiskParity(risk_model=RM).weights(target_of(panel), ctx_of(panel)).weights
    rc = risk_contributions(w, cov_of(panel, ctx_of))
    np.testing.assert_allclose(rc, np.full(6, 1 / 6), atol=1e-6)
    cov = np.array([[0.04, 0.006, 0.0], [0.006, 0.09, 0.01], [0.0, 0.01, 0.01]])
    np.testing.assert_allclose(risk_contributions(equal_risk_contribution(cov), cov), 1 / 3, atol=1e-10)


def test_hrp_matches_a_hand_worked_example():
    # A and B correlated 0.9, C independent: the tree is ((A, B), C); order A, B, C.
    vol = np.array([0.1, 0.2, 0.1])
    corr = np.array([[1.0, 0.9, 0.0], [0.9, 1.0, 0.0], [0.0, 0.0, 1.0]])
    cov = corr * np.outer(vol, vol)
    assert quasi_diagonal_order(cov) == [2, 0, 1]
    w = hrp(cov)
    # Bisection by halves of the order. With order [2, 0, 1]: {C} vs {A, B}.
    # v_C = 0.01; IVP of {A, B}: (1/0.01, 1/0.04) -> (0.8, 0.2); v_AB = 0.64*0.01 + 0.04*0.04 + 2*0.8*0.2*0.018
    v_ab = 0.64 * 0.01 + 0.04 * 0.04 + 2 * 0.8 * 0.2 * 0.018
    a_c = 1 - 0.01 / (0.01 + v_ab)
    # then {A} vs {B}: alpha_A = 1 - 0.01 / (0.01 + 0.04) = 0.8
    expected = np.array([(1 - a_c) * 0.8, (1 - a_c) * 0.2, a_c])
    np.testing.assert_allclose(w, expected, atol=1e-12)


def test_inverse_vol_and_hrp_stay_within_max_weight(panel, ctx_of, target_of):
    c = Constraints(max_weight=0.3)
    for cls in (InverseVolatility, HierarchicalRiskParity, RiskParity):
        chosen = cls(risk_model=RM, constraints=c).weights(target_of(panel), ctx_of(panel))
        w = chosen.weights
        assert w.sum() == pytest.approx(1.0) and w.max() <= 0.3 + 1e-12
        assert (chosen.report.solver, chosen.report.solve_ms) == ("none", 0.0)


def test_selected_universe_is_the_strategys_picks(panel, ctx_of, target_of):
    tgt = target_of(panel, weights=[0, 1, 0, 1, 1, 0])
    w = MinVariance(risk_model=RM).weights(tgt, ctx_of(panel)).weights
    assert np.all(w[[0, 2, 5]] == 0) and w.sum() == pytest.approx(1.0)


def test_max_names_keeps_the_largest(panel, ctx_of, target_of):
    opt = MeanVariance(risk_model=RM, constraints=Constraints(max_names=2, max_weight=0.6), risk_aversion=0.01)
    w = opt.weights(target_of(panel), ctx_of(panel)).weights
    assert (w > 1e-9).sum() <= 2 and w.sum() == pytest.approx(1.0, abs=1e-7)


def test_infeasible_at_a_decision_names_the_date_and_the_constraints(panel, ctx_of, target_of):
    opt = MinVariance(risk_model=RM, constraints=Constraints(max_weight=0.3))
    tgt = target_of(panel, weights=[1, 1, 1, 0, 0, 0])  # 3 names x 0.3 < 1
    with pytest.raises(OptimizationError, match=r"2024-10-26.*max_weight 0.3 x 3 assets in the universe < net 1.0"):
        opt.weights(tgt, ctx_of(panel))


def test_fallback_chain_is_walked_and_recorded(panel, ctx_of, target_of):
    held = np.full(6, 1 / 6)
    tgt = target_of(panel, weights=[1, 1, 1, 0, 0, 0])
    opt = MinVariance(risk_model=RM, constraints=Constraints(max_weight=0.3), fallback=["previous"])
    chosen = opt.weights(tgt, ctx_of(panel, weights=held))
    np.testing.assert_allclose(chosen.weights, held)
    report = chosen.report
    assert (report.status, report.solver) == ("previous weights kept", "none")
    assert report.steps == ("infeasible: max_weight 0.3 x 3 assets in the universe < net 1.0 -> previous",)


def test_solver_failure_falls_back_to_a_relaxed_problem(panel, ctx_of, target_of):
    held = np.array([1.0, 0, 0, 0, 0, 0])
    c = Constraints(max_turnover=0.1, max_weight=0.5)  # cannot move from 100% A to <= 50% A with 10% turnover
    opt = MinVariance(risk_model=RM, constraints=c, fallback=["OSQP", "relax"])
    chosen = opt.weights(target_of(panel), ctx_of(panel, weights=held))
    w, report = chosen.weights, chosen.report
    assert [s.split(" -> ")[1] for s in report.steps] == ["OSQP", "relax"]
    assert report.solver == "CLARABEL"  # the relaxed problem is solved with the configured solver
    assert report.steps[0].startswith("infeasible")
    assert w.max() <= 0.5 + 1e-7 and w.sum() == pytest.approx(1.0, abs=1e-7)
    with pytest.raises(OptimizationError, match=r"MinVariance at 2024-10-26: infeasible"):
        MinVariance(risk_model=RM, constraints=c).weights(target_of(panel), ctx_of(panel, weights=held))


def test_group_caps_bind(panel, ctx_of, target_of):
    c = Constraints(groups={"tech": ["E", "F"], "other": ["A"]}, group_limits=["tech <= 0.3", "other >= 0.2"])
    w = MeanVariance(risk_model=RM, constraints=c, risk_aversion=0.01).weights(target_of(panel), ctx_of(panel)).weights
    assert w[4] + w[5] <= 0.3 + 1e-7 and w[0] >= 0.2 - 1e-7
    assert w[4] + w[5] == pytest.approx(0.3, abs=1e-6)  # the highest scores are in tech: the cap binds


def test_target_vol_caps_volatility(panel, ctx_of, target_of):
    cov = cov_of(panel, ctx_of)
    free = MeanVariance(risk_model=RM, risk_aversion=0.01, max_factors=None).weights(target_of(panel), ctx_of(panel))
    vol_free = float(np.sqrt(free.weights @ cov @ free.weights))
    cap = 0.8 * vol_free
    c = Constraints(target_vol=cap)
    w = MeanVariance(risk_model=RM, constraints=c, risk_aversion=0.01, max_factors=None)
    got = w.weights(target_of(panel), ctx_of(panel)).weights
    assert float(np.sqrt(got @ cov @ got)) == pytest.approx(cap, rel=1e-5)


def test_bad_config_fails_at_construction():
    with pytest.raises(ValueError, match="risk_aversion"):
        MeanVariance(risk_aversion=-1)
    with pytest.raises(ValueError, match="solver"):
        MeanVariance(solver="GUROBI")
    with pytest.raises(ValueError, match="fallback"):
        MinVariance(fallback=["retry"])
    with pytest.raises(ValueError, match="extra"):
        MinVariance(risk_aversion=1.0)


def test_equal_weight_is_a_pass_through():
    assert EqualWeight(gross=2.0).normalize(np.array([1.0, 3.0])).tolist() == [0.5, 1.5]


def test_fallbacks_are_recorded_per_decision_in_the_outputs():
    from qt.backtest.engine import BacktestEngine
    from qt.execution.simulator import ExecutionSimulator
    from qt.rebalancing import Calendar
    from qt.results.writer import decisions_table
    from qt.risk.sizing import Sizer
    from qt.types import TargetPositions

    class ThreeNames:
        rebalance = Calendar(frequency="monthly")

        def scores(self, panel):
            return np.ones(panel.close.shape)

        def target(self, ctx, scores):
            return TargetPositions(ctx.timestamp, np.array([1.0, 1, 1, 0, 0, 0]), scores)

    from qt.testing.panels import daily_panel

    rng = np.random.default_rng(0)
    panel = daily_panel(100 * np.exp(np.cumsum(rng.normal(0, 0.01, (300, 6)), axis=0)))
    opt = MinVariance(risk_model=RM, constraints=Constraints(max_weight=0.3), fallback=["equal"])
    engine = BacktestEngine(
        strategy=ThreeNames(), portfolio=opt, sizer=Sizer(), execution=ExecutionSimulator(), capital=1e6
    )
    table = decisions_table(engine.run(panel, np.ones((300, 6)))).to_pandas()
    solved = table[table.status != "empty universe: cash"]
    assert len(solved) == 7 and set(solved.status) == {"equal"}  # Apr..Sep month ends and the last bar
    assert set(solved.fallback_steps) == {"infeasible: max_weight 0.3 x 3 assets in the universe < net 1.0 -> equal"}
    assert solved.gross.tolist() == pytest.approx([1.0] * 7)
