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


OUTPUT_DIRS = ("hydra.run.dir", "hydra.sweep.dir")  # Hydra creates these literally: expand before it sees them


def expand_override(arg: str) -> str:
    """A command-line override with its path expanded where Hydra would not.

    ``key=~/...`` (Hydra's grammar refuses a value starting with ``~``), and ``hydra.run.dir`` /
    ``hydra.sweep.dir`` (``~`` and ``$VAR``: Hydra would create folders of those names). Other values pass unchanged: a component expands its own paths when it reads them.

    Examples
    --------
    >>> expand_override("data.path=~/prices.csv") == f"data.path={Path.home()}/prices.csv"
    True
    >>> expand_override("strategy=xmom")
    'strategy=xmom'
    """
    key, sep, value = arg.partition("=")
    bare = key.lstrip("+")
    if not sep or key.startswith("~"):
        return arg
    if value == "~" or value.startswith("~/") or (bare in OUTPUT_DIRS and ("$" in value or value.startswith("~"))):
        return f"{key}={expand_path(value, bare)}"
    return arg
