"""Signal short names: ``signal: momentum`` in YAML. Plugins add theirs with ``@register_signal``."""

from __future__ import annotations

import importlib
from typing import Any

from qt.config.names import NameRegistry
from qt.errors import ConfigError

_S = "qt.features.signals"
SIGNALS = NameRegistry(
    "signal",
    {
        "field": f"{_S}.transforms.BarField",
        "returns": f"{_S}.transforms.Returns",
        "ts_zscore": f"{_S}.transforms.TimeSeriesZScore",
        "cs_zscore": f"{_S}.transforms.CrossSectionalZScore",
        "rank": f"{_S}.transforms.CrossSectionalRank",
        "winsorize": f"{_S}.transforms.Winsorize",
        "demean": f"{_S}.transforms.Demean",
        "neutralize": f"{_S}.transforms.Neutralize",
        "ewma": f"{_S}.transforms.Ewma",
        "momentum": f"{_S}.momentum.CrossSectionalMomentumSignal",
        "ts_momentum": f"{_S}.momentum.TimeSeriesMomentum",
        "high_52w": f"{_S}.momentum.DistanceToHigh",
        "reversal": f"{_S}.mean_reversion.ShortTermReversal",
        "ma_zscore": f"{_S}.mean_reversion.MovingAverageZScore",
        "bollinger_pctb": f"{_S}.mean_reversion.BollingerPercentB",
        "volatility": f"{_S}.volatility.Volatility",
        "low_vol": f"{_S}.volatility.LowVolatility",
        "weighted_sum": f"{_S}.combinators.WeightedSum",
        "product": f"{_S}.combinators.Product",
        "sign": f"{_S}.combinators.Sign",
        "threshold": f"{_S}.combinators.Threshold",
        "difference": f"{_S}.combinators.Difference",
        "ratio": f"{_S}.combinators.Ratio",
        "triple_barrier": "qt.features.labeling.triple_barrier.TripleBarrierLabel",
    },
)
register_signal = SIGNALS.register


def signal_class(name: str, key: str, allowed: tuple[str, ...] = ("qt.", "strategies.")) -> Any:
    """The Signal class for ``name``: a short name (built-in or plugin) or an allowlisted dotted path."""
    from qt.features.signals.base import Signal

    if "." in name:
        if not name.startswith(allowed):
            raise ConfigError(key, f"'{name}' is not under an allowed prefix {list(allowed)}")
        from qt.config.plugins import ensure_strategies_package

        ensure_strategies_package()
        module, _, attr = name.rpartition(".")
        try:
            cls = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(key, f"cannot import '{name}': {exc}") from None
    else:
        if not SIGNALS.has(name):
            from qt.config.plugins import load_plugins

            load_plugins()
        cls = SIGNALS.lookup(name, key)
    if not (isinstance(cls, type) and issubclass(cls, Signal)):
        raise ConfigError(key, f"'{name}' is not a Signal (subclass qt.features.signals.base.Signal)")
    return cls
