"""The three backends behind one fixture, so every test in the shared suite runs on each."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
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


def _spec(kind: str, request: pytest.FixtureRequest, tmp_path: Path, schema: str) -> Iterator[dict[str, str]]:
    if kind == "postgres":
        dsn = request.getfixturevalue("postgres")
        yield {"kind": "postgres", "dsn": dsn, "schema": schema}
        _drop_schema(dsn, schema)
    else:
        yield {"kind": kind, "data_dir": str(tmp_path / "store")}


@pytest.fixture(params=["duckdb", "postgres", "parquet"])
def store_spec(request: pytest.FixtureRequest, tmp_path: Path, pg_schema: str) -> Iterator[dict[str, str]]:
    """How to open a fresh, empty store of each kind: {"kind", "data_dir" or "dsn"/"schema"}."""
    yield from _spec(request.param, request, tmp_path, pg_schema)


@pytest.fixture(params=["duckdb", "postgres"])
def transactional_spec(request: pytest.FixtureRequest, tmp_path: Path, pg_schema: str) -> Iterator[dict[str, str]]:
    """Like ``store_spec``, for the stores that write in one database transaction."""
    yield from _spec(request.param, request, tmp_path, pg_schema)


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


def snapshot(store: BarStore) -> tuple:
    """Everything a store holds (metadata, bars, actions, coverage), in comparable form."""
    meta = store.metadata()
    symbols = sorted(meta)
    bars = store._scan(symbols, None, None).to_pandas() if symbols else pd.DataFrame()
    if len(bars):
        bars["symbol"] = bars["symbol"].astype(str)
        bars = bars.sort_values(["symbol", "timestamp"]).reset_index(drop=True)
    actions = store._scan_actions(symbols, None).to_pandas() if symbols else pd.DataFrame()
    return meta, bars, actions, store.coverage()


def open_spec(spec: dict[str, str], **kwargs: object) -> BarStore:
    """Open the store a ``store_spec`` describes."""
    return open_store(
        spec["kind"], data_dir=spec.get("data_dir"), dsn=spec.get("dsn"), schema=spec.get("schema"), **kwargs
    )  # type: ignore[arg-type]


def cli_env(spec: dict[str, str]) -> dict[str, str]:
    """Environment that points `qt data` at the store a ``store_spec`` describes."""
    env = {"QT_STORE": spec["kind"]}
    if spec["kind"] == "postgres":
        env |= {"QT_POSTGRES_DSN": spec["dsn"], "QT_POSTGRES_SCHEMA": spec["schema"]}
    else:
        env["QT_DATA_DIR"] = spec["data_dir"]
    return env


@pytest.fixture
def helpers() -> SimpleNamespace:
    """snapshot, open and env (see the functions above), for the tests in this folder."""
    return SimpleNamespace(snapshot=snapshot, open=open_spec, env=cli_env)
