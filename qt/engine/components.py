"""The component graph of one run, built from a composed config (no data is read).

Everything that can be checked without data (keys, types, ranges, targets) is checked
here, before anything loads; backtest and live build the same graph.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig, OmegaConf

from qt.config.instantiate import DEFAULT_ALLOWED, build
from qt.config.settings import RunSettings
from qt.config.spec import RunSpec
from qt.data.panel import BarPanel
from qt.data.sanity import check_price_jumps
from qt.data.sources.base import DataSource
from qt.engine.pipeline import DecisionPipeline
from qt.errors import ConfigError
from qt.execution.simulator import ExecutionSimulator
from qt.portfolio.base import PortfolioConstructor
from qt.risk.limits import PreTradeLimit
from qt.risk.sizing import Sizer
from qt.risk.stops import PostTradeStop
from qt.strategies.base import Strategy

COMPONENTS = ("data", "strategy", "portfolio", "execution", "risk.sizing")
OPTIONAL = ("risk.limits", "risk.post_trade", "risk.var", "risk.stress")  # built when present and not null


@dataclass(frozen=True)
class Components:
    """The built component graph of one run."""

    settings: RunSettings
    data: DataSource
    strategy: Strategy
    portfolio: PortfolioConstructor
    execution: ExecutionSimulator
    sizer: Sizer
    optional: dict[str, Any] = field(default_factory=dict)

    def load_panel(self, check: Callable[[BarPanel], object] | None = None) -> BarPanel:
        """The run's bars: the data source between ``start`` and ``end``, checked for the fill price field.

        ``check`` sees the panel next (e.g. that a benchmark symbol exists), before any signal is computed.
        """
        s = self.settings
        panel = self.data.load().between(str(s.start) if s.start else None, str(s.end) if s.end else None)
        check_price_jumps(panel, source=_source_name(self.data, panel))
        self.execution.check(panel)
        if check is not None:
            check(panel)
        return panel

    def pipeline(self) -> DecisionPipeline:
        """The decision pipeline this graph describes (backtest and live run the same one)."""
        return DecisionPipeline(
            strategy=self.strategy,
            portfolio=self.portfolio,
            sizer=self.sizer,
            limits=self.optional.get("risk.limits") or (),
            var=self.optional.get("risk.var"),
        )


def build_components(cfg: DictConfig) -> Components:
    """Validate the strategy spec and run settings, then instantiate every component (no data is read)."""
    from qt.config.validate import validate_run
    from qt.features.cache import cache_from_config
    from qt.strategies.registry import STRATEGIES

    validate_run(cfg, STRATEGIES)  # every strategy-spec problem at once, with file:line:col, before anything is built
    cache_from_config(cfg)  # a bad cache setting fails before the data loads
    settings = RunSpec.parse(cfg).settings
    allowed = (*DEFAULT_ALLOWED, *settings.allowed_targets)
    built = {}
    for key in COMPONENTS:
        node = OmegaConf.select(cfg, key)
        if node is None:
            raise ConfigError(key, "missing; choose one, e.g. " + _example(key))
        built[key] = build(node, key, allowed=allowed, names=STRATEGIES)
    for key, proto in (("data", DataSource), ("portfolio", PortfolioConstructor)):
        if not isinstance(built[key], proto):
            raise ConfigError(f"{key}._target_", f"{type(built[key]).__name__} does not implement {proto.__name__}")
    if not isinstance(built["strategy"], Strategy):
        raise ConfigError(
            "strategy._target_",
            f"{type(built['strategy']).__name__} is not a Strategy "
            "(needs rebalance, scores(panel) and target(ctx, scores))",
        )
    optional = {}
    for key in OPTIONAL:
        node = OmegaConf.select(cfg, key)
        if node is not None:
            optional[key] = build(node, key, allowed=allowed)
    for key, base in (("risk.limits", PreTradeLimit), ("risk.post_trade", PostTradeStop)):
        optional[key] = _checked_list(optional.get(key), key, base)
    return Components(
        settings,
        built["data"],
        built["strategy"],
        built["portfolio"],
        built["execution"],
        built["risk.sizing"],
        optional,
    )


def _source_name(data: DataSource, panel: BarPanel) -> str:
    """How error messages name the data: its file or folder when it has one, else the panel's name."""
    path = getattr(data, "path", None)
    return f"data.path {path}" if path else f"data ({panel.name})"


def _example(key: str) -> str:
    return {
        "data": "data=sample",
        "strategy": "strategy=xmom",
        "portfolio": "portfolio=equal",
        "execution": "execution=close",
        "risk.sizing": "risk=default",
    }[key]


def _checked_list(items: Any, key: str, base: type) -> tuple[Any, ...]:
    """``items`` as a tuple of ``base`` components; anything else is a ConfigError naming the entry."""
    if items is None:
        return ()
    if not isinstance(items, list):
        raise ConfigError(key, f"must be a list of {base.__name__} components (one entry per limit), got {items!r}")
    for i, item in enumerate(items):
        if not isinstance(item, base):
            raise ConfigError(f"{key}[{i}]", f"{type(item).__name__} is not a {base.__name__}")
    return tuple(items)
