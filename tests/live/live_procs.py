"""Real ``qt run mode=live broker=paper`` processes for the ``qt live`` tests: start one, watch its store, stop it.

The run: four synthetic assets, xmom holding the top half, rebalanced every bar (so every bar
decides and sends orders), trading live from 2000-02-01 after a month of warm-up bars.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from qt.live.store import LiveStore, open_state_dir

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")
DAY_S = 86_400
RUN = (
    "mode=live", "broker=paper", "strategy=xmom", "portfolio=equal", "data=synthetic", "data.n_assets=4",
    "data.n_days=260", "strategy.params.lookback=10", "strategy.params.skip=0", "strategy.params.quantile=0.5",
    "strategy.params.frequency=daily", "report.tearsheet=false", "live.start=2000-02-01",
)  # fmt: skip


def bar_every(seconds: float) -> str:
    """The ``live.speed`` override that replays one business day every ``seconds`` of wall time."""
    return f"live.speed={DAY_S / seconds:g}"


def qt(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run the real ``qt`` CLI to completion."""
    return subprocess.run(
        [sys.executable, "-m", "qt", *args], cwd=cwd, env={**os.environ, **(env or {})},
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


class LiveProcess:
    """One ``qt run mode=live`` in the background; stdout and stderr go to files in ``folder``."""

    def __init__(
        self, folder: Path, state_dir: Path, *overrides: str, name: str = "live", env: dict[str, str] | None = None
    ) -> None:
        self.folder, self.state_dir, self.name = folder, state_dir, name
        self.out, self.err = folder / f"{name}.out", folder / f"{name}.err"
        self.run_dir = folder / f"run-{name}"
        args = [*RUN, f"live.state_dir={state_dir}", f"hydra.run.dir={self.run_dir}", *overrides]
        with self.out.open("w") as out, self.err.open("w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "qt", "run", *args], cwd=folder, env={**os.environ, **(env or {})},
                stdout=out, stderr=err,
            )  # fmt: skip

    def output(self) -> str:
        """What the process printed so far (stdout then stderr)."""
        return self.out.read_text() + self.err.read_text()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Send ``sig`` and wait for the exit code."""
        self.proc.send_signal(sig)
        return self.wait(timeout)

    def wait(self, timeout: float = 30) -> int:
        """Wait for the process to end; its exit code."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise AssertionError(f"{self.name} did not exit within {timeout} s:\n{self.output()}") from None

    def kill(self) -> None:
        """SIGKILL if still running (test teardown)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def read(state_dir: Path, query: Callable[[LiveStore], T]) -> T | None:
    """``query`` on the folder's store, or None while the store does not exist yet."""
    if not (state_dir / "store.json").exists():
        return None
    with open_state_dir(state_dir) as store:
        return query(store)


def wait_for(
    state_dir: Path, query: Callable[[LiveStore], T], what: str, *, proc: LiveProcess | None = None,
    timeout: float = 40,
) -> T:  # fmt: skip
    """Poll ``query`` on the store until it returns something truthy; fail naming ``what`` (with the output)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = read(state_dir, query)
        if found:
            return found
        if proc is not None and proc.proc.poll() is not None:
            raise AssertionError(f"{proc.name} exited ({proc.proc.returncode}) before {what}:\n{proc.output()}")
        time.sleep(0.05)
    output = proc.output() if proc is not None else ""
    raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{output}")


def bars(store: LiveStore) -> int:
    """How many bars the live run has recorded."""
    return len(store.events(kinds=["bar"]))  # type: ignore[list-item]


def as_dict(value: Any) -> dict[str, Any]:
    """An order record as a plain dict (for assertion messages)."""
    return {
        "id": value.client_order_id,
        "status": value.status.value,
        "reason": value.reason,
        "q": value.intent.quantity,
    }
