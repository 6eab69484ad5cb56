"""The three live-store backends behind one fixture: every contract test runs on SQLite, PostgreSQL and Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from store_child import settings_of

from qt.live.store import LiveStore, open_from_settings

CHILD = Path(__file__).with_name("store_child.py")
REPO = Path(__file__).resolve().parents[3]


def _drop(spec: dict[str, Any]) -> None:
    if spec["kind"] == "postgres":
        import psycopg
        from psycopg import sql

        with psycopg.connect(spec["dsn"], autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(spec["namespace"])))
    elif spec["kind"] == "redis":
        import redis

        client = redis.Redis.from_url(spec["url"], socket_timeout=5)
        keys = list(client.scan_iter(match=f"{spec['namespace']}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("redis", marks=pytest.mark.redis),
    ]
)
def spec(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """How to open a fresh store of each kind (unique schema or key prefix; dropped afterwards)."""
    kind = request.param
    tag = uuid.uuid4().hex[:12]
    if kind == "sqlite":
        yield {"kind": kind, "state_dir": str(tmp_path / "state")}
        return
    if kind == "postgres":
        found = {"kind": kind, "dsn": request.getfixturevalue("postgres"), "namespace": f"qt_test_live_{tag}"}
    else:
        found = {"kind": kind, "url": request.getfixturevalue("redis_url"), "namespace": f"qt:test:live:{tag}"}
    found["state_dir"] = str(tmp_path / "state")
    yield found
    _drop(found)


@pytest.fixture
def opener(spec: dict[str, Any]) -> Iterator[Callable[..., LiveStore]]:
    """``opener(run_name=..., create=...)`` opens the spec's store (closed at teardown)."""
    opened: list[LiveStore] = []

    def open_(run_name: str | None = "test-run", create: bool = True) -> LiveStore:
        store = open_from_settings(settings_of(spec), state_dir=spec["state_dir"], run_name=run_name, create=create)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        store.close()


@pytest.fixture
def store(opener: Callable[..., LiveStore]) -> LiveStore:
    """A fresh, empty store of each kind."""
    return opener()


def run_child(spec: dict[str, Any], task: dict[str, Any], env: dict[str, str] | None = None, timeout: float = 120):
    """Run ``store_child.py`` (a real process) on the spec's store; returns the CompletedProcess."""
    return subprocess.run(
        [sys.executable, str(CHILD), json.dumps({"spec": spec, **task})],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_child(spec: dict[str, Any], task: dict[str, Any]) -> subprocess.Popen[str]:
    """Start ``store_child.py`` without waiting for it."""
    return subprocess.Popen(
        [sys.executable, str(CHILD), json.dumps({"spec": spec, **task})],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
