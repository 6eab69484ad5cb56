"""Short names for components, so YAML can say ``_target_: xmom`` instead of a module path.

Registering maps a name to the same class a full ``_target_`` path would import.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any, TypeVar

from qt.errors import ConfigError

T = TypeVar("T")

_REGISTRY: dict[str, Any] = {}
_BUILTINS = {
    "xmom": "qt.strategies.xmom_crosssec.CrossSectionalMomentum",
    "equal_weight": "qt.strategies.equal_weight.EqualWeightStrategy",
    "pipeline": "qt.strategies.pipeline.strategy.PipelineStrategy",
    "mr_pairs": "qt.strategies.mr_pairs.PairsTrading",
}


def register_strategy(name: str) -> Callable[[T], T]:
    """Class decorator: make ``name`` usable as ``_target_: name`` in YAML.

    Examples
    --------
    >>> @register_strategy("my_idea")
    ... class MyIdea: ...
    >>> lookup("my_idea", "strategy") is MyIdea
    True
    """

    def deco(cls: T) -> T:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"strategy name '{name}' is already registered to {_REGISTRY[name]!r}")
        _REGISTRY[name] = cls
        return cls

    return deco


def lookup(name: str, key: str) -> Any:
    """The class registered as ``name``; a ConfigError at ``key`` suggests close names."""
    if name not in _REGISTRY and name in _BUILTINS:
        import importlib

        module, _, attr = _BUILTINS[name].rpartition(".")
        _REGISTRY[name] = getattr(importlib.import_module(module), attr)
    if name not in _REGISTRY:
        from qt.config.plugins import load_plugins

        load_plugins()  # plugin modules in the strategy folders register their names on import
    if name in _REGISTRY:
        return _REGISTRY[name]
    known = sorted({*_REGISTRY, *_BUILTINS})
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise ConfigError(f"{key}._target_", f"unknown component name '{name}'{hint}; known: {', '.join(known)}")
