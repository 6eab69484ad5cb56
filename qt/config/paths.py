"""Where qt finds its configs: the framework's ``conf/`` and the strategy folders.

In a checkout these are the repository's ``conf/`` and ``strategies/``; an installed
wheel carries copies inside the package (``qt/_conf``, ``qt/_strategies``).
"""

from __future__ import annotations

import os
import re
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


_VARIABLE = re.compile(r"\$([A-Za-z_]\w*)|\$\{([A-Za-z_]\w*)\}")  # not ${a.b} / ${now:...}: OmegaConf's


def expand_path(value: str | os.PathLike[str], key: str = "") -> Path:
    """A path the user gave, with ``~`` and ``$VAR`` / ``${VAR}`` expanded; an unset variable is a ConfigError.

    Use it for every path a user types (config values, command-line arguments, output folders).

    Examples
    --------
    >>> import os; os.environ["QT_DOC_ROOT"] = "/data"
    >>> expand_path("$QT_DOC_ROOT/prices.parquet").as_posix()
    '/data/prices.parquet'
    >>> expand_path("~/x") == Path.home() / "x"
    True
    """
    text = os.fspath(value)
    for match in _VARIABLE.finditer(text):
        name = match.group(1) or match.group(2)
        if name not in os.environ:
            from qt.errors import ConfigError

            raise ConfigError(key or text, f"${name} in the path {text!r} is not set in the environment; export it")
    return Path(os.path.expandvars(text)).expanduser()
