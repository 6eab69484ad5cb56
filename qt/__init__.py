"""qt: a declarative, config-driven framework for quantitative trading.

Importing ``qt`` is cheap on purpose: subpackages load their heavy
dependencies (pandas, pyarrow, hydra) only when used, so ``qt --help`` is instant.
``qt.run``, ``qt.sweep`` and ``qt.load`` (the notebook API, ``qt.api``) load on first use.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "load", "run", "sweep"]
_API = frozenset({"run", "sweep", "load"})


def __getattr__(name: str) -> Any:
    """``qt.run`` / ``qt.sweep`` / ``qt.load`` import ``qt.api`` (and with it pandas and Hydra) only when used."""
    if name in _API:
        from qt import api

        return getattr(api, name)
    raise AttributeError(f"module 'qt' has no attribute {name!r}")
