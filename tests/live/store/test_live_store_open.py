"""Opening a store: unreachable servers fail fast and clearly, secrets stay out, settings reject typos."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from qt.errors import ConfigError
from qt.live.store import (
    PostgresStoreSettings,
    RedisStoreSettings,
    SqliteStoreSettings,
    StoreError,
    StoreUnavailableError,
    open_state_dir,
    open_store,
)
from qt.live.store.faults import armed
from qt.testing.servers import silent_server

SECRET = "hunter2-not-a-real-password"


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A local port that accepts connections and never answers (qt.testing.servers)."""
    with silent_server() as port:
        yield port


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("kind", ["postgres", "redis"])
def test_a_server_that_never_answers_fails_within_the_timeout(kind: str, silent_port: int, tmp_path: Path) -> None:
    dsn = f"postgresql://qt:{SECRET}@127.0.0.1:{silent_port}/live"
    url = f"redis://:{SECRET}@127.0.0.1:{silent_port}/0"
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError) as caught:
        open_store(kind, dsn=dsn, url=url, run_name="r", timeout_s=1, state_dir=tmp_path)
    elapsed = time.monotonic() - started
    limit = 2.0 if kind == "postgres" else 1.0  # libpq's connect_timeout has a 2 s floor
    assert limit * 0.8 <= elapsed < limit + 2.0
    message = str(caught.value)
    assert f"127.0.0.1:{silent_port}" in message
    assert SECRET not in message and "\n" not in message
    assert not (tmp_path / "store.json").exists()


@pytest.mark.parametrize("kind", ["postgres", "redis"])
def test_a_closed_port_fails_at_once_naming_it(kind: str) -> None:
    port = _closed_port()
    dsn, url = f"postgresql://qt:{SECRET}@127.0.0.1:{port}/live", f"redis://:{SECRET}@127.0.0.1:{port}/0"
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError, match=f"127.0.0.1:{port}") as caught:
        open_store(kind, dsn=dsn, url=url, run_name="r", timeout_s=5)
    assert time.monotonic() - started < 3.0
    assert SECRET not in str(caught.value)


def test_the_dsn_comes_from_the_environment_and_is_never_stored(
    postgres: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Trust auth ignores the password, so a DSN carrying one connects and we can look for it afterwards.
    dsn = postgres.replace("postgresql://postgres@", f"postgresql://postgres:{SECRET}@")
    monkeypatch.setenv("QT_LIVE_PG_DSN", dsn)
    state = tmp_path / "state"
    store = open_store("postgres", state_dir=state, run_name="secret test", namespace="qt_test_live_secret")
    try:
        store.record_alert("hello")
        assert SECRET not in store.meta().location and "postgres:" not in store.meta().location
        stored = store._all("SELECT key, value FROM meta", []) + store._all("SELECT payload FROM events", [])  # type: ignore[attr-defined]
        assert SECRET not in repr(stored)
        assert SECRET not in (state / "store.json").read_text()
        again = open_state_dir(state)  # finds the schema from store.json and the DSN from the environment
        assert again.meta().run_name == "secret test"
        again.close()
    finally:
        store.drop()  # type: ignore[attr-defined]
        store.close()


def test_a_missing_dsn_or_url_names_the_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QT_LIVE_PG_DSN", raising=False)
    monkeypatch.delenv("QT_LIVE_REDIS_URL", raising=False)
    with pytest.raises(ConfigError, match=r"live.store.dsn: .*\$QT_LIVE_PG_DSN"):
        open_store("postgres", run_name="r")
    with pytest.raises(ConfigError, match=r"live.store.url: .*\$QT_LIVE_REDIS_URL"):
        open_store("redis", run_name="r")
    with pytest.raises(ConfigError, match="choose one of sqlite, postgres, redis"):
        open_store("mysql", run_name="r")
    with pytest.raises(ConfigError, match=r"live\.state_dir"):
        open_store("sqlite", run_name="r")


def test_settings_reject_typos_and_hide_secrets() -> None:
    with pytest.raises(ValidationError, match="busy_timout_s"):
        SqliteStoreSettings(busy_timout_s=3)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="greater than 0"):
        RedisStoreSettings(socket_timeout_s=0)
    settings = PostgresStoreSettings(dsn=f"postgresql://qt:{SECRET}@db:5432/live")  # type: ignore[arg-type]
    assert SECRET not in repr(settings) and SECRET not in str(settings.model_dump())
    assert (settings.connect_timeout_s, settings.statement_timeout_s) == (5.0, 10.0)
    assert SqliteStoreSettings().synchronous == "FULL"


def test_sqlite_store_lives_in_the_state_dir_in_wal_mode(tmp_path: Path) -> None:
    with open_store("sqlite", state_dir=tmp_path / "s", run_name="r") as store:
        assert store.meta().location == str(tmp_path / "s" / "state.sqlite")
        conn = store._conn  # type: ignore[attr-defined]
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert json.loads((tmp_path / "s" / "store.json").read_text()) == {"kind": "sqlite", "namespace": "state.sqlite"}
    (tmp_path / "s").rename(tmp_path / "moved")  # the folder is self-contained
    with open_state_dir(tmp_path / "moved") as again:
        assert again.meta().run_name == "r"
    with pytest.raises(StoreError, match="no live state store here"):
        open_state_dir(tmp_path / "elsewhere")


def test_fault_points_parse_their_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QT_FAULT", "router.after_intent, store.after_log_insert@7")
    assert armed("store.after_log_insert") == 7
    assert armed("router.after_intent") == 1
    assert armed("store.before_commit") is None
    monkeypatch.delenv("QT_FAULT")
    assert armed("store.after_log_insert") is None
    assert "QT_FAULT" not in os.environ


def test_a_writer_waits_for_the_lock_then_fails_clearly(tmp_path: Path) -> None:
    with open_store("sqlite", state_dir=tmp_path, run_name="r") as holder, holder.batch():
        holder.record_alert("holding the write lock")
        started = time.monotonic()
        with pytest.raises(StoreUnavailableError, match=r"could not take the write lock within 0\.3 s"):
            open_store("sqlite", state_dir=tmp_path, run_name="r", timeout_s=0.3)
        assert 0.25 <= time.monotonic() - started < 2.0
    with open_store("sqlite", state_dir=tmp_path, run_name="r", timeout_s=0.3) as after:
        assert [a.record.message for a in after.alerts()] == ["holding the write lock"]


def test_meta_keeps_the_latest_config_hash(tmp_path: Path) -> None:
    with open_store("sqlite", state_dir=tmp_path, run_name="r", config_hash="abc123") as store:
        first = store.meta()
        assert (first.run_name, first.config_hash, first.schema_version) == ("r", "abc123", 2)
    with open_store("sqlite", state_dir=tmp_path, run_name="r", config_hash="def456") as store:
        again = store.meta()
        assert again.config_hash == "def456" and again.created_at == first.created_at
