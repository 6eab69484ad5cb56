"""The three backends behind one fixture, so every test in the shared suite runs on each."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from qt.data.storage import open_store
from qt.data.storage.base import BarStore


@pytest.fixture
def pg_schema() -> str:
    """A fresh, unique PostgreSQL schema name (dropped by the fixture that uses it)."""
    return f"qt_test_{uuid.uuid4().hex[:12]}"


def _drop_schema(dsn: str, schema: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture(params=["duckdb", "postgres", "parquet"])
def store_spec(request: pytest.FixtureRequest, tmp_path: Path, pg_schema: str) -> Iterator[dict[str, str]]:
    """How to open a fresh, empty store of each kind: {"kind", "data_dir" or "dsn"/"schema"}."""
    if request.param == "postgres":
        dsn = request.getfixturevalue("postgres")
        yield {"kind": "postgres", "dsn": dsn, "schema": pg_schema}
        _drop_schema(dsn, pg_schema)
    else:
        yield {"kind": request.param, "data_dir": str(tmp_path / "store")}


@pytest.fixture
def store(store_spec: dict[str, str]) -> Iterator[BarStore]:
    """An open, empty store of each kind."""
    with open_store(
        store_spec["kind"],
        data_dir=store_spec.get("data_dir"),
        dsn=store_spec.get("dsn"),
        schema=store_spec.get("schema"),
    ) as opened:
        yield opened
