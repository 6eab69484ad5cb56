"""Safe instantiation of ``_target_`` trees: allowlist first, then typed construction.

``_target_`` is code execution, so every target is checked against an allowlist of
module prefixes *before anything is imported*. Every failure becomes a ConfigError
naming the dotted key, and - when the value came from ``${...}`` - the key it came from.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import inspect
import re
from collections.abc import Iterable, Mapping
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from qt.config.names import NameRegistry
from qt.errors import ConfigError

DEFAULT_ALLOWED = ("qt.", "strategies.")
MOVED = {  # old module path -> where it lives now; old YAML keeps working
    "qt.portfolio.rebalancing.": "qt.rebalancing.",
    "qt.backtest.costs.": "qt.execution.costs.",
    "qt.backtest.slippage.": "qt.execution.slippage.",
    "qt.backtest.execution_sim.": "qt.execution.simulator.",
    "qt.live.paper_adapter.": "qt.live.paper.adapter.",
    "qt.portfolio.allocators.": "qt.strategies.multi.",
    "qt.portfolio.solved.": "qt.portfolio.convex.",  # MeanVariance, MinVariance, MaxSharpe
}
REPLACED = {  # a component whose YAML form changed -> the new form, named in the error
    "qt.risk.limits.PreTradeLimits": "risk.limits is now a list of limit components, one per limit, e.g. "
    "[{_target_: qt.risk.limits.MaxPositionWeight, max_position_weight: 0.1}, "
    "{_target_: qt.risk.limits.MaxGross, max_gross: 1.0}]; each takes its own `action` (clip | reject). "
    "See conf/risk/conservative.yaml and docs/portfolio.md",
    "qt.risk.stops.PostTradeLimits": "risk.post_trade is now a list of stops, e.g. "
    "[{_target_: qt.risk.stops.DrawdownStop, max_drawdown: 0.25}, {_target_: qt.risk.stops.DailyLossLimit, "
    "max_loss: 0.05}]. See conf/risk/conservative.yaml and docs/portfolio.md",
}
SPEC_ONLY_KEYS = ("params",)  # a spec's knob block: data for interpolation, not a constructor argument
_INTERPOLATION = re.compile(r"^\$\{([^}]+)\}$")


def build(node: Any, key: str, *, allowed: Iterable[str] = DEFAULT_ALLOWED, names: NameRegistry | None = None) -> Any:
    """Instantiate ``node`` (a DictConfig or plain dict) found at dotted ``key``.

    ``names`` resolves short ``_target_`` names (``xmom``, ``pipeline``); without it a target
    must be a dotted path.

    Examples
    --------
    >>> build({"_target_": "qt.portfolio.optimizers.EqualWeight", "gross": 1.0}, "portfolio")
    EqualWeight(gross=1.0)
    """
    allowed = tuple(allowed)
    check_targets(node, key, allowed)
    raw = OmegaConf.to_container(node, resolve=False) if isinstance(node, (DictConfig, ListConfig)) else node
    try:
        resolved = OmegaConf.to_container(node, resolve=True) if isinstance(node, (DictConfig, ListConfig)) else node
    except OmegaConfBaseException as exc:
        full_key = getattr(exc, "full_key", None) or key
        raise ConfigError(str(full_key), f"cannot resolve: {exc.msg if hasattr(exc, 'msg') else exc}") from None
    return _build(resolved, raw, key, allowed, names)


def check_targets(node: Any, key: str, allowed: tuple[str, ...]) -> None:
    """Refuse any ``_target_`` outside the allowlist, naming its key; imports nothing."""
    if isinstance(node, (DictConfig, ListConfig)):
        node = OmegaConf.to_container(node, resolve=False)
    if isinstance(node, Mapping):
        target = node.get("_target_")
        if isinstance(target, str) and "${" in target:
            raise ConfigError(
                f"{key}._target_",
                f"'{target}' is an interpolation; a _target_ names the code to run, so write its dotted path out "
                "(e.g. qt.strategies.xmom_crosssec.CrossSectionalMomentum), never computed from other values",
            )
        if isinstance(target, str) and "." in target and not target.startswith(allowed):
            raise ConfigError(
                f"{key}._target_",
                f"'{target}' is not under an allowed prefix {list(allowed)}; "
                "add its package to `allowed_targets` in your config if you trust it",
            )
        for k, v in node.items():
            check_targets(v, f"{key}.{k}", allowed)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            check_targets(v, f"{key}[{i}]", allowed)


def _build(value: Any, raw: Any, key: str, allowed: tuple[str, ...], names: NameRegistry | None) -> Any:
    if isinstance(value, list):
        raws = raw if isinstance(raw, list) else [None] * len(value)
        return [_build(v, r, f"{key}[{i}]", allowed, names) for i, (v, r) in enumerate(zip(value, raws, strict=True))]
    if not isinstance(value, Mapping):
        return value
    raw = raw if isinstance(raw, Mapping) else {}
    kwargs = {
        k: _build(v, raw.get(k), f"{key}.{k}", allowed, names)
        for k, v in value.items()
        if k not in ("_target_", "_partial_") and not (k in SPEC_ONLY_KEYS and "_target_" in value)
    }
    if "_target_" not in value:
        return kwargs
    target = import_target(str(value["_target_"]), key, names)
    _check_arguments(target, kwargs, key)
    if value.get("_partial_"):
        return functools.partial(target, **kwargs)
    try:
        return target(**kwargs)
    except Exception as exc:
        raise _as_config_error(exc, key, raw) from None


def import_target(path: str, key: str, names: NameRegistry | None = None) -> Any:
    """Import ``pkg.mod.Name``, or look a short name up in ``names``."""
    if "." not in path:
        if names is None:
            raise ConfigError(f"{key}._target_", f"'{path}' is not a module path; write pkg.module.Name")
        return names.lookup(path, f"{key}._target_")
    if path in REPLACED:
        raise ConfigError(f"{key}._target_", f"'{path}' was replaced: {REPLACED[path]}")
    for old, new in MOVED.items():
        if path.startswith(old):
            path = new + path.removeprefix(old)
    module_name, _, attr = path.rpartition(".")
    if module_name.split(".")[0] == "strategies":
        from qt.config.plugins import ensure_strategies_package

        ensure_strategies_package()  # plugin modules live in the strategy folders
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"{key}._target_", f"cannot import module '{module_name}': {exc}") from None
    if not hasattr(module, attr):
        public = [n for n in dir(module) if not n.startswith("_")]
        raise ConfigError(f"{key}._target_", f"'{module_name}' has no '{attr}'{_suggest(attr, public)}")
    return getattr(module, attr)


def _check_arguments(target: Any, kwargs: Mapping[str, Any], key: str) -> None:
    """Unknown keyword -> error naming the key and the closest allowed name."""
    fields = getattr(target, "model_fields", None)
    if fields is not None:
        allowed = list(fields)
    else:
        try:
            params = inspect.signature(target).parameters
        except (TypeError, ValueError):
            return
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            return
        allowed = [n for n, p in params.items() if p.kind is not inspect.Parameter.VAR_POSITIONAL]
    for name in kwargs:
        if name not in allowed:
            raise ConfigError(f"{key}.{name}", f"unknown key{_suggest(name, allowed)}; allowed: {', '.join(allowed)}")


def _as_config_error(exc: Exception, key: str, raw: Mapping[str, Any]) -> ConfigError:
    """Map a constructor's failure to the dotted key(s) of the offending value."""
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        problems: list[tuple[str, str]] = []
        for err in exc.errors():
            loc = [str(p) for p in err["loc"]]
            field_key = ".".join([key, *loc])
            msg = str(err["msg"]).removeprefix("Input ").removeprefix("Value error, ")
            if loc and err["type"] != "missing":
                msg += f", got {err['input']!r}"
            source = _interpolation_source(raw, loc)
            problems.append((source, f"{msg} (used as {field_key})") if source else (field_key, msg))
        if len(problems) == 1:
            return ConfigError(*problems[0])
        return ConfigError("", "\n".join(f"{k}: {m}" for k, m in problems))
    return ConfigError(key, f"{type(exc).__name__}: {exc}")


def _interpolation_source(raw: Mapping[str, Any], loc: list[str]) -> str | None:
    """If the raw value at ``loc`` is ``${a.b}``, return 'a.b'."""
    value: Any = raw
    for part in loc:
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        else:
            return None
    match = _INTERPOLATION.match(value) if isinstance(value, str) else None
    return match.group(1).lstrip(".") if match else None


def _suggest(name: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
