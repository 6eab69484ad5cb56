"""Market data stores: DuckDB (embedded default), PostgreSQL, and a hive-partitioned Parquet dataset.

``open_store`` picks a backend by name and imports its driver only then, so nothing here
slows down ``qt --help``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from qt.errors import ConfigError

if TYPE_CHECKING:
    from qt.data.storage.base import BarStore

KINDS = ("duckdb", "postgres", "parquet")


def open_store(
    kind: str,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    dsn: str | None = None,
    schema: str | None = None,
    read_only: bool = False,
) -> BarStore:
    """Open the store ``kind`` (duckdb | postgres | parquet).

    ``data_dir`` locates DuckDB and Parquet stores; ``dsn`` and ``schema`` a PostgreSQL one.
    Unset values come from ``QT_DATA_DIR``, ``QT_POSTGRES_DSN`` and ``QT_POSTGRES_SCHEMA``.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder, open_store("duckdb", data_dir=folder) as store:
    ...     store.kind.value
    'duckdb'
    """
    if kind == "duckdb":
        from qt.data.storage.duckdb_store import DuckDBStore

        return DuckDBStore(data_dir=data_dir, read_only=read_only)
    if kind == "postgres":
        from qt.data.storage.postgres_store import PostgresStore

        return PostgresStore(dsn=dsn, schema=schema)
    if kind == "parquet":
        from qt.data.storage.parquet_store import ParquetStore

        return ParquetStore(data_dir=data_dir)
    raise ConfigError("data.store", f"unknown store {kind!r}; choose one of {', '.join(KINDS)}")
