"""Where stores live: the data directory and the PostgreSQL DSN, from config or the environment."""

from __future__ import annotations

import os
import re
from pathlib import Path

DATA_DIR_ENV = "QT_DATA_DIR"
DSN_ENV = "QT_POSTGRES_DSN"
SCHEMA_ENV = "QT_POSTGRES_SCHEMA"
DEFAULT_SCHEMA = "qt"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def data_dir(configured: str | os.PathLike[str] | None = None) -> Path:
    """``configured``, else ``$QT_DATA_DIR``, else ``~/.qt/data`` (created on first use by the stores).

    Examples
    --------
    >>> data_dir("/tmp/bars").as_posix()
    '/tmp/bars'
    """
    from qt.config.paths import expand_path

    chosen = configured or os.environ.get(DATA_DIR_ENV) or "~/.qt/data"
    return expand_path(chosen, "data.data_dir")


def postgres_dsn(configured: str | None = None) -> str:
    """``configured``, else ``$QT_POSTGRES_DSN``, else libpq's own defaults (PGHOST, PGUSER, ...)."""
    return configured or os.environ.get(DSN_ENV, "")


def postgres_schema(configured: str | None = None) -> str:
    """A validated schema name: ``configured``, else ``$QT_POSTGRES_SCHEMA``, else ``qt``."""
    from qt.errors import ConfigError

    name = configured or os.environ.get(SCHEMA_ENV) or DEFAULT_SCHEMA
    if not _IDENTIFIER.match(name):
        raise ConfigError("data.schema", f"{name!r} is not a plain SQL identifier (letters, digits, _)")
    return name


def redact(dsn: str) -> str:
    """The DSN with any password replaced by ***, safe to print.

    Examples
    --------
    >>> redact("postgresql://me:s3cret@db:5432/bars")
    'postgresql://me:***@db:5432/bars'
    >>> redact("host=db password=s3cret dbname=bars")
    'host=db password=*** dbname=bars'
    """
    dsn = re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", dsn)
    return re.sub(r"(password\s*=\s*)('[^']*'|\S+)", r"\1***", dsn)
