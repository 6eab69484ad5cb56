"""``qt check lookahead strategy=NAME [overrides]``: prove every node of a strategy's signal graph is causal.

For sampled dates t the data after t is scrambled and every node recomputed; any change
at or before t names the node, date and symbol. Also checks that fills come after decisions.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
from pydantic import ConfigDict

from qt.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``lookahead`` then Hydra overrides; ``--samples`` dates, ``--seed``."""
    parser.add_argument("what", choices=["lookahead"], help="the check to run")
    parser.add_argument("--samples", type=int, default=8, help="number of sampled cut-off dates (default 8)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the dates and the scrambling")
    parser.add_argument("overrides", nargs=argparse.REMAINDER, help="config overrides, e.g. strategy=rsi_reversal")


def split_options(args: argparse.Namespace, names: tuple[str, ...]) -> list[str]:
    """Options given among the overrides (``... strategy=x --samples 3``) set on ``args``; the overrides returned."""
    parser = argparse.ArgumentParser(add_help=False)
    for name in names:
        parser.add_argument(f"--{name}", type=type(getattr(args, name)) if getattr(args, name) is not None else str)
    try:
        known, rest = parser.parse_known_args(list(args.overrides))
    except SystemExit:  # argparse already said what is wrong with the option's value
        raise ConfigError("", f"bad option value among {' '.join(args.overrides)}") from None
    for name in names:
        if getattr(known, name) is not None:
            setattr(args, name, getattr(known, name))
    unknown = [o for o in rest if o.startswith("-")]
    if unknown:
        options = ", ".join(f"--{n}" for n in names)
        raise ConfigError("", f"unknown option {unknown[0]}; options: {options} (see --help); overrides are KEY=VALUE")
    return rest


def compose(overrides: list[str]) -> Any:
    """The run config for ``overrides`` (as ``qt run`` would compose it), with Hydra's choices."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from qt.config.hydra_errors import explain
    from qt.config.overrides import check_overrides
    from qt.config.paths import conf_dir, expand_override

    overrides = [expand_override(o) for o in overrides]
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            cfg = hydra_compose(config_name="config", overrides=overrides, return_hydra_config=True)
    except Exception as exc:
        error = explain(exc)
        if error is not None:
            raise error from None
        raise
    check_overrides(cfg, overrides, groups=cfg.hydra.runtime.choices.keys())
    return cfg


def strategy_graph(strategy: Any, panel: Any) -> Any:
    """The strategy's signal graph plus a node ``<scores>`` for what it finally trades on.

    A strategy whose scores are [T x K x N] (several score panels, e.g. sleeves) gets one
    node ``<scores>[k]`` per panel.
    """
    from qt.features.graph import SignalGraph
    from qt.features.signals.base import Signal

    class StrategyScores(Signal):
        """The strategy's ``scores(panel)``."""

        model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)
        strategy: Any
        part: int | None = None

        def compute(self, panel: Any, nodes: Any) -> np.ndarray:
            scores = np.asarray(self.strategy.scores(panel), dtype=np.float64)
            return scores if self.part is None else scores[:, self.part]

    own = getattr(strategy, "signals", None)
    nodes = dict(own.nodes) if isinstance(own, SignalGraph) else {}
    roles = dict(own.roles) if isinstance(own, SignalGraph) else {}
    shape = np.shape(strategy.scores(panel))
    if len(shape) == 3:
        nodes.update({f"<scores>[{k}]": StrategyScores(strategy=strategy, part=k) for k in range(shape[1])})
    else:
        nodes["<scores>"] = StrategyScores(strategy=strategy)
    return SignalGraph(nodes, roles)


def check_execution(parts: Any, panel: Any) -> str | None:
    """Run the backtest `qt run` would run; check every fill is at or after its decision (same bar: at its close)."""
    from qt.backtest.engine import BacktestEngine
    from qt.enums import Field

    engine = BacktestEngine.from_components(parts)
    result = engine.run(panel, parts.strategy.scores(panel))
    for batch in result.fills:
        if not batch.filled.any():
            continue  # expired or cancelled: no price was used
        decided = batch.orders.decided_at
        if batch.filled_at < decided or (batch.filled_at == decided and parts.execution.price_field is not Field.CLOSE):
            return (
                f"orders decided at {panel.timestamps[decided]} fill at {panel.timestamps[batch.filled_at]} "
                f"({parts.execution.price_field.value}): before the decision's information"
            )
    return None


def run(args: argparse.Namespace) -> int:
    """Print ok, or the first leak; exit 1 on a leak."""
    from qt.engine.components import build_components
    from qt.features.lookahead import check_graph, sample_cutoffs

    cfg = compose(split_options(args, ("samples", "seed")))
    parts = build_components(cfg)
    panel = parts.load_panel()
    graph = strategy_graph(parts.strategy, panel)
    cutoffs = sample_cutoffs(panel.n_bars, args.samples, np.random.default_rng(args.seed))
    leak = check_graph(graph, panel, cutoffs=cutoffs, seed=args.seed)
    exempt = [n for n in graph.nodes if graph.role(n).value == "label"]
    if leak is not None:
        print(f"LOOKAHEAD: {leak}")
        return 1
    timing = check_execution(parts, panel)
    if timing is not None:
        print(f"LOOKAHEAD (execution): {timing}")
        return 1
    print(
        f"ok: {len(graph.nodes) - len(exempt)} nodes causal at {len(cutoffs)} sampled dates"
        + (f" (labels exempt: {', '.join(exempt)})" if exempt else "")
        + f"; fills at {parts.execution.timing.value} come at or after each decision"
    )
    return 0
