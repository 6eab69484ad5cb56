"""Running the real ``qt`` console script in a scratch folder, and checking that an error is said once, cleanly."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
QT = REPO / ".venv" / "bin" / "qt"
SMALL = ("data=synthetic", "data.n_assets=5", "data.n_days=300", "strategy.params.lookback=63")
KEPT = {"run.log", "error.json", "config.yaml", "hydra.yaml", "overrides.yaml", "multirun.yaml"}  # not results


def run_qt(cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120):
    """``qt ARGS`` as a user would type it, in ``cwd``; QT_DEBUG and HYDRA_FULL_ERROR unset unless given."""
    base = {k: v for k, v in os.environ.items() if k not in ("QT_DEBUG", "HYDRA_FULL_ERROR")}
    return subprocess.run(
        [str(QT), *args],
        cwd=cwd,
        env={**base, "QT_STRATEGIES": "", **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def result_files(folder: Path) -> list[str]:
    """Files under ``folder/outputs`` other than logs, saved configs and error records."""
    out = folder / "outputs"
    return sorted(str(p.relative_to(folder)) for p in out.rglob("*") if p.is_file() and p.name not in KEPT)


def assert_one_error(out: subprocess.CompletedProcess, message: str, *, code: int = 2) -> None:
    """Exit ``code``; the last line of stderr is ``message`` exactly; no traceback, no Hydra hints."""
    assert out.returncode == code, (out.returncode, out.stderr)
    assert "Traceback" not in out.stderr and "HYDRA_FULL_ERROR" not in out.stderr, out.stderr
    assert "To append to your config use +" not in out.stderr, out.stderr
    assert out.stderr.strip().splitlines()[-1] == message, out.stderr


@pytest.fixture
def qt(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess]:
    """``qt(*args, env=...)`` run in ``tmp_path``."""
    return lambda *args, env=None, timeout=120: run_qt(tmp_path, *args, env=env, timeout=timeout)
