"""Shared fixtures: tiny data files, the CLI runner, and service checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from qt.testing.services import POSTGRES, REDIS, require

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def postgres() -> str:
    """DSN of the test PostgreSQL (skips, or fails under CI=true, when it is down)."""
    require("PostgreSQL", POSTGRES)
    return os.environ.get("QT_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def redis_url() -> str:
    """URL of the test Redis (skips, or fails under CI=true, when it is down)."""
    require("Redis", REDIS)
    return os.environ.get("QT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def run_qt(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 300):
    """Run the real `qt` CLI in a subprocess; returns the CompletedProcess (text mode)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "qt", *args],
        cwd=cwd or REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def qt_cli():
    """The `run_qt` helper as a fixture."""
    return run_qt
