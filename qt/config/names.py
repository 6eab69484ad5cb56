"""Registries of short names (``signal: momentum``) for components YAML may name without a module path.

A registry maps a name to a class; built-ins are listed as dotted paths and imported on
first use, plugins register themselves with the registry's decorator when imported.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from qt.errors import ConfigError

T = TypeVar("T")


class NameRegistry:
    """Short name -> class, for one kind of component (``signal``, ``selection rule``, ...).

    Examples
    --------
    >>> reg = NameRegistry("widget", {"dict": "builtins.dict"})
    >>> reg.get("dict") is dict
    True
    >>> reg.suggest("dikt")
    "did you mean 'dict'?"
    """

    def __init__(self, kind: str, builtins: Mapping[str, str], *, on_miss: Callable[[], object] | None = None) -> None:
        self.kind = kind
        self._builtins = dict(builtins)
        self._on_miss = on_miss  # e.g. import the plugin modules, which register more names
        self._classes: dict[str, Any] = {}
        self._plugins: set[str] = set()

    def register(self, name: str) -> Callable[[T], T]:
        """Class decorator: make ``name`` usable from YAML."""

        def deco(cls: T) -> T:
            known = self._classes.get(name)
            if (
                known is not None
                and known is not cls
                and getattr(known, "__qualname__", None) != getattr(cls, "__qualname__", None)
            ):
                raise ValueError(f"{self.kind} name '{name}' is already registered to {known!r}")
            self._classes[name] = cls
            if name not in self._builtins:
                self._plugins.add(name)
            return cls

        return deco

    def names(self) -> list[str]:
        """Every known name: built-ins and registered plugins."""
        return sorted({*self._builtins, *self._classes})

    def plugins(self) -> list[str]:
        """Names registered by plugin modules (not built in)."""
        return sorted(self._plugins)

    def has(self, name: str) -> bool:
        """Whether ``name`` is known (without importing anything)."""
        return name in self._builtins or name in self._classes

    def get(self, name: str) -> Any:
        """The class behind ``name``; KeyError when unknown."""
        if name not in self._classes:
            module, _, attr = self._builtins[name].rpartition(".")
            self._classes[name] = getattr(importlib.import_module(module), attr)
        return self._classes[name]

    def suggest(self, name: str, extra: list[str] | None = None) -> str:
        """'did you mean ...?' with the closest known names, or an empty string."""
        close = difflib.get_close_matches(name, [*self.names(), *(extra or [])], n=3, cutoff=0.6)
        return "did you mean " + " or ".join(f"'{c}'" for c in close) + "?" if close else ""

    def lookup(self, name: str, key: str) -> Any:
        """Like ``get`` but an unknown name is a ConfigError at ``key`` with suggestions."""
        if not self.has(name) and self._on_miss is not None:
            self._on_miss()
        if not self.has(name):
            hint = self.suggest(name)
            raise ConfigError(key, f"unknown {self.kind} '{name}'" + (f"; {hint}" if hint else ""))
        return self.get(name)
