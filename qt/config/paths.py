"""Where qt finds its configs: the framework's ``conf/`` and the strategy folders.

In a checkout these are the repository's ``conf/`` and ``strategies/``; an installed
wheel carries copies inside the package (``qt/_conf``, ``qt/_strategies``).
"""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]


def conf_dir() -> Path:
    """The framework's Hydra config directory."""
    bundled = _PACKAGE / "_conf"
    return bundled if bundled.is_dir() else _PACKAGE.parent / "conf"


def strategy_dirs() -> list[Path]:
    """Folders searched for ``strategy=NAME`` (``NAME.yaml``), first match wins.

    Order: ``$QT_STRATEGIES`` (os.pathsep-separated), ``./strategies``, then the
    framework's own examples.
    """
    dirs = [Path(p) for p in os.environ.get("QT_STRATEGIES", "").split(os.pathsep) if p]
    dirs.append(Path.cwd() / "strategies")
    bundled = _PACKAGE / "_strategies"
    dirs.append(bundled if bundled.is_dir() else _PACKAGE.parent / "strategies")
    seen: set[Path] = set()
    unique = []
    for d in dirs:
        real = d.resolve()
        if real not in seen and real.is_dir():
            seen.add(real)
            unique.append(real)
    return unique
