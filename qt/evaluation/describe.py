"""A run described for people: a title from the strategy and its key parameters, the configuration as short YAML.

Components are named by the config group option they came from (``portfolio: meanvar``)
when the run's ``.hydra/hydra.yaml`` records it, else by their class's short name — never
by a ``_target_`` path. The full configuration stays in the run's ``.hydra/config.yaml``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

GROUPS = ("data", "strategy", "portfolio", "risk", "execution", "costs", "slippage")
SCALARS = (bool, int, float, str)
MAX_PARAMS = 8


def strategy_name(cfg: Mapping[str, Any], choices: Mapping[str, str]) -> str:
    """``xmom`` (the strategy option), else the spec's ``name``, else its class's short name."""
    spec = cfg.get("strategy")
    if choices.get("strategy"):
        return str(choices["strategy"])
    if isinstance(spec, Mapping):
        if spec.get("name"):
            return str(spec["name"])
        return _short(spec.get("_target_")) or "strategy"
    return "strategy"


def title(cfg: Mapping[str, Any], choices: Mapping[str, str]) -> str:
    """``xmom — lookback 252, skip 21, quantile 0.2, monthly``: the strategy and its ``params``.

    Numbers show as ``name value``, words as the value alone, true flags by name; false flags are left out.

    Examples
    --------
    >>> title({"strategy": {"params": {"lookback": 252, "long_short": False, "frequency": "monthly"}}}, {"strategy": "xmom"})
    'xmom — lookback 252, monthly'
    """
    spec = cfg.get("strategy")
    params = spec.get("params") if isinstance(spec, Mapping) else None
    name = strategy_name(cfg, choices)
    shown = _params(params) if isinstance(params, Mapping) else []
    return f"{name} — {', '.join(shown)}" if shown else name


def short_config(cfg: Mapping[str, Any], choices: Mapping[str, str]) -> str:
    """One line per component: its option or class, the options of its sub-components, then its scalar settings.

    Examples
    --------
    >>> cfg = {"portfolio": {"_target_": "qt.portfolio.optimizers.MeanVariance", "risk_aversion": 1.0,
    ...        "risk_model": {"_target_": "qt.portfolio.risk_models.LedoitWolf"}}, "capital": 1000000}
    >>> print(short_config(cfg, {"portfolio": "meanvar", "risk_model": "ledoit_wolf"}), end="")
    portfolio: meanvar (ledoit_wolf; risk_aversion 1.0)
    capital: 1,000,000
    """
    import yaml

    lines: dict[str, str] = {}
    for group in GROUPS:
        node = cfg.get(group)
        if node is None:
            continue
        if group == "strategy":
            lines[group] = title(cfg, choices)
        elif group == "risk" and isinstance(node, Mapping) and "_target_" not in node:
            lines[group] = _risk(node, choices)
        else:
            lines[group] = _component(node, choices.get(group), choices)
    for key in ("benchmark", "start", "end"):
        if cfg.get(key) is not None:
            lines[key] = str(cfg[key])
    if cfg.get("capital") is not None:
        lines["capital"] = f"{cfg['capital']:,}" if isinstance(cfg["capital"], int | float) else str(cfg["capital"])
    if not lines:
        return "(no .hydra/config.yaml in the run directory)\n"
    return yaml.safe_dump(lines, sort_keys=False, allow_unicode=True, width=10_000)


def _component(node: Any, option: str | None, choices: Mapping[str, str]) -> str:
    if not isinstance(node, Mapping):
        return str(node)
    name = option or _short(node.get("_target_")) or "custom"
    subs = [  # sub-components that are groups of their own (execution's costs) have their own line
        _sub_name(k, v, choices)
        for k, v in node.items()
        if isinstance(v, Mapping) and "_target_" in v and k not in GROUPS
    ]
    scalars = _params({k: v for k, v in node.items() if k != "_target_"}, words_by_name=True)
    inner = ", ".join(subs) + ("; " if subs and scalars else "") + ", ".join(scalars)
    return f"{name} ({inner})" if inner else name


def _risk(node: Mapping[str, Any], choices: Mapping[str, str]) -> str:
    """``conservative (sizing; limits; stops drawdown(max_drawdown 0.25, flatten), ...; var)``."""
    parts = []
    for key, value in node.items():
        if value is None:
            continue
        if key == "post_trade" and isinstance(value, Mapping):
            stops = [
                f"{k}({', '.join(_params({a: b for a, b in v.items() if a != '_target_'}))})"
                for k, v in value.items()
                if isinstance(v, Mapping)
            ]
            parts.append(f"stops {', '.join(stops)}" if stops else "no stops")
        elif isinstance(value, Mapping):
            parts.append(str(key))
    option = choices.get("risk") or "custom"
    return f"{option} ({'; '.join(parts)})" if parts else option


def _sub_name(key: str, node: Mapping[str, Any], choices: Mapping[str, str]) -> str:
    return str(choices.get(key) or _short(node.get("_target_")) or key)


def _params(params: Mapping[str, Any], *, words_by_name: bool = False) -> list[str]:
    out = []
    for key, value in params.items():
        if value is None or not isinstance(value, SCALARS):
            continue
        if isinstance(value, bool):
            if value:
                out.append(str(key))
        elif isinstance(value, str) and not words_by_name:
            out.append(value)
        else:
            out.append(f"{key} {value}")
    return out[:MAX_PARAMS]


def _short(target: Any) -> str:
    return str(target).rsplit(".", 1)[-1] if target else ""
