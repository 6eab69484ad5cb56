"""User plugins: the ``strategies`` package spans every strategy folder, so ``strategies.my_signal`` imports.

Plugin modules (``strategies/*.py``) register signals, selection rules or strategies with
a decorator when imported; ``load_plugins`` imports them all (for ``qt signals`` and for
short names a built-in does not know).
"""

from __future__ import annotations

import importlib
import logging
import sys
import types

from qt.config.paths import strategy_dirs
from qt.errors import ConfigError

PACKAGE = "strategies"
log = logging.getLogger("qt")


def ensure_strategies_package() -> None:
    """Make ``import strategies.NAME`` search every strategy folder (idempotent)."""
    folders = [str(d) for d in strategy_dirs()]
    module = sys.modules.get(PACKAGE)
    if module is None:
        module = types.ModuleType(PACKAGE, "qt strategy folders: YAML specs and plugin modules")
        module.__path__ = []
        sys.modules[PACKAGE] = module
    path = getattr(module, "__path__", None)
    if path is None:
        return
    for folder in folders:
        if folder not in list(path):
            path.append(folder)


def load_plugins() -> list[str]:
    """Import every ``*.py`` module of the strategy folders; return their module names."""
    ensure_strategies_package()
    loaded = []
    for folder in strategy_dirs():
        for file in sorted(folder.glob("*.py")):
            if file.stem.startswith("_"):
                continue
            name = f"{PACKAGE}.{file.stem}"
            try:
                importlib.import_module(name)
            except Exception as exc:  # a broken plugin must name itself, not crash unrelated commands
                raise ConfigError(name, f"plugin module {file} failed to import: {type(exc).__name__}: {exc}") from exc
            loaded.append(name)
    return loaded
