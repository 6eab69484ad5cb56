"""One book through every test window: each window decides with the configuration chosen for it.

The stitched strategy hands each decision to the strategy chosen for the window the
bar falls in, with that strategy's own scores (computed once on the full history, so
causal) and its own rebalancing dates; outside the test windows it never decides. The
book (cash and positions) carries from one window into the next because it is one run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qt.context import DecisionContext
from qt.data.panel import BarPanel
from qt.errors import ConfigError
from qt.portfolio.base import PortfolioConstructor
from qt.rebalancing import drift_rule
from qt.strategies.base import Strategy
from qt.types import TargetPositions, TargetWeights
from qt.validation.windows import Window


@dataclass(frozen=True)
class WindowSchedule:
    """Each test window's own rebalancing dates; no decision outside the test windows."""

    strategies: tuple[Strategy, ...]
    windows: tuple[Window, ...]

    def schedule(self, timestamps: np.ndarray) -> np.ndarray:
        """Bool [T]: window k's strategy's schedule inside test window k, False elsewhere."""
        out = np.zeros(len(timestamps), dtype=bool)
        for strategy, w in zip(self.strategies, self.windows, strict=True):
            out[w.test_start : w.test_end] = strategy.rebalance.schedule(timestamps)[w.test_start : w.test_end]
        return out


class WindowedStrategy:
    """The strategy chosen for each test window, one after the other."""

    def __init__(self, *, strategies: Sequence[Strategy], windows: Sequence[Window]) -> None:
        if len(strategies) != len(windows) or not windows:
            raise ValueError("one strategy per test window, and at least one window")
        for k, s in enumerate(strategies):
            if drift_rule(s.rebalance) is not None:
                raise ConfigError(
                    "strategy.rebalance",
                    f"walk-forward needs calendar rebalancing; window {k}'s strategy uses a drift rule",
                )
        self.strategies = tuple(strategies)
        self.windows = tuple(windows)
        self.rebalance = WindowSchedule(self.strategies, self.windows)
        self._starts = np.array([w.test_start for w in self.windows])

    def owner(self, t: int) -> int:
        """Index of the test window bar ``t`` falls in (the last one started at or before t)."""
        return max(int(np.searchsorted(self._starts, t, side="right")) - 1, 0)

    def stitch(self, scores: Sequence[np.ndarray]) -> np.ndarray:
        """Rows of window k from ``scores[k]`` (each [T x N]); NaN outside the test windows."""
        shapes = {s.shape for s in scores}
        if len(shapes) != 1:
            raise ConfigError("validation.grid", f"the configurations' score panels differ in shape: {sorted(shapes)}")
        out = np.full(scores[0].shape, np.nan)
        for s, w in zip(scores, self.windows, strict=True):
            out[w.test_start : w.test_end] = s[w.test_start : w.test_end]
        return out

    def scores(self, panel: BarPanel) -> np.ndarray:
        """Each window's strategy scores the full history; window k's rows come from strategy k."""
        return self.stitch([s.scores(panel) for s in self.strategies])

    def target(self, ctx: DecisionContext, scores: np.ndarray) -> TargetPositions | None:
        """The decision of the strategy chosen for the window ``ctx.t`` falls in."""
        return self.strategies[self.owner(ctx.t)].target(ctx, scores)


class WindowedPortfolio:
    """The portfolio constructor chosen for each test window."""

    def __init__(self, *, portfolios: Sequence[PortfolioConstructor], owner: WindowedStrategy) -> None:
        self.portfolios = tuple(portfolios)
        self._owner = owner

    def weights(self, target: TargetPositions, ctx: DecisionContext) -> TargetWeights:
        """The weights of the portfolio chosen for the window ``ctx.t`` falls in."""
        return self.portfolios[self._owner.owner(ctx.t)].weights(target, ctx)
