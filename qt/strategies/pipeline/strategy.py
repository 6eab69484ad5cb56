"""PipelineStrategy: a strategy that is only a spec - universe, named signal nodes, combine, select, weight, rebalance."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from qt.config.problems import Problem, to_validation_error
from qt.context import DecisionContext
from qt.data.panel import BarPanel
from qt.features.graph import SignalGraph, parse_graph
from qt.features.signals.base import Role
from qt.features.signals.combinators import Transform, transform
from qt.rebalancing import Calendar
from qt.strategies.pipeline.select import (
    SELECTIONS,
    WEIGHTINGS,
    Selector,
    SelectTopQuantile,
    WeighEqual,
    Weigher,
    parse_component,
)
from qt.strategies.pipeline.universe import Universe
from qt.strategies.registry import register_strategy
from qt.types import TargetPositions


class Combine(BaseModel):
    """The traded score as a weighted sum of nodes, each z-scored or ranked across assets first."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    weights: dict[str, float] = Field(min_length=1)
    transform: Transform = Transform.ZSCORE


@register_strategy("pipeline")
class PipelineStrategy(BaseModel):
    """Scores = ``combine`` of the signal graph, outside the universe NaN; targets = ``weight`` of ``select``.

    ``combine`` names one node, or is ``{weights: {node: w, ...}, transform: zscore|rank|none}``;
    when omitted the graph's single unreferenced feature node is traded.

    Examples
    --------
    >>> s = PipelineStrategy(signals={"mom": {"signal": "momentum", "lookback": 126, "skip": 21}}, combine="mom")
    >>> s.traded_nodes()
    ['mom']
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    universe: Universe = Universe()
    signals: SignalGraph
    combine: str | Combine | None = None
    select: Selector = SelectTopQuantile()
    weight: Weigher = WeighEqual()
    rebalance: Calendar = Calendar()

    @field_validator("signals", mode="before")
    @classmethod
    def _parse_signals(cls, value: Any) -> SignalGraph:
        if isinstance(value, SignalGraph):
            return value
        graph, problems = parse_graph(value)
        if problems:
            raise to_validation_error("signals", problems)
        return graph

    @field_validator("select", mode="before")
    @classmethod
    def _parse_select(cls, value: Any) -> Selector:
        return parse_component(value, SELECTIONS, "rule", "top_quantile", Selector)

    @field_validator("weight", mode="before")
    @classmethod
    def _parse_weight(cls, value: Any) -> Weigher:
        return parse_component(value, WEIGHTINGS, "scheme", "equal", Weigher)

    @model_validator(mode="after")
    def _combine_names_feature_nodes(self) -> PipelineStrategy:
        problems = combine_problems(self.signals, self.combine)
        if problems:
            raise to_validation_error("PipelineStrategy", problems)
        return self

    def traded_nodes(self) -> list[str]:
        """The nodes the traded score is made of."""
        return traded_nodes(self.signals, self.combine)

    def scores(self, panel: BarPanel) -> np.ndarray:
        """The combined score [T x N], NaN outside the universe (each node computed once, cached if on)."""
        values = self.signals.evaluate(panel, self.traded_nodes(), prefix="strategy.signals")
        if isinstance(self.combine, Combine):
            score = np.zeros((panel.n_bars, panel.n_assets))
            for name, w in self.combine.weights.items():
                score = score + w * transform(np.asarray(values[name]), self.combine.transform)
        else:
            score = np.array(values[self.traded_nodes()[0]], dtype=np.float64)
        return np.where(self.universe.mask(panel), score, np.nan)

    def target(self, ctx: DecisionContext, scores: np.ndarray) -> TargetPositions:
        """Select among assets scored and tradable at t, then weigh."""
        eligible = np.isfinite(scores) & ctx.tradable
        side = self.select.select(scores, eligible)
        return TargetPositions(ctx.timestamp, self.weight.weigh(side, scores, ctx), scores)


def traded_nodes(graph: SignalGraph, combine: str | Combine | None) -> list[str]:
    """Nodes named by ``combine``; by default the single feature node no other node reads."""
    if isinstance(combine, Combine):
        return list(combine.weights)
    if isinstance(combine, str):
        return [combine]
    read = {ref for node in graph.nodes.values() for ref in node.references()}
    return [n for n in graph.nodes if n not in read and graph.role(n) is Role.FEATURE]


def combine_problems(graph: SignalGraph, combine: str | Combine | None) -> list[Problem]:
    """Unknown nodes in ``combine``, an ambiguous default, or a label feeding the traded score."""
    import difflib

    names = traded_nodes(graph, combine)
    if combine is None and len(names) != 1:
        return [
            Problem(("combine",), f"name the node to trade (unreferenced feature nodes: {', '.join(names) or 'none'})")
        ]
    path: tuple[str, ...] = ("combine", "weights") if isinstance(combine, Combine) else ("combine",)
    for name in names:
        if name not in graph.nodes:
            close = difflib.get_close_matches(name, list(graph.nodes), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            return [Problem(path, f"unknown signal node '{name}'{hint}; nodes: {', '.join(graph.nodes)}", name)]
        leaks = sorted(n for n in graph.ancestors(name) if graph.role(n) is Role.LABEL)
        if leaks:
            return [
                Problem(
                    path, f"traded node '{name}' depends on label node(s) {', '.join(leaks)}, which look ahead", name
                )
            ]
    return []
