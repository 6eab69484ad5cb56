"""A process SIGKILLed in the middle of an ingest leaves the store exactly as it was (DuckDB, PostgreSQL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qt.data.sources.synthetic import SyntheticData

REPO = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.slow


def _kill_after_first_batch(path: Path, env: dict[str, str]) -> tuple[str, int]:
    """Start `qt data ingest PATH`, SIGKILL it once the first batch is staged (inside the transaction)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "qt", "data", "ingest", str(path), "--chunk-rows", "1000"],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()  # "staged 1,000 / 300,000 rows": 299 batches and the commit still to go
        assert "staged 1,000 / 300,000 rows" in line, line + proc.stderr.read()
        proc.send_signal(signal.SIGKILL)
        stdout, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return stdout, proc.returncode


def test_killed_ingest_leaves_the_store_as_before(tmp_path, transactional_spec, helpers) -> None:
    store_spec = transactional_spec
    env = {**os.environ, **helpers.env(store_spec)}
    small = SyntheticData(n_assets=3, n_days=20, seed=1).load().to_frame()
    small["symbol"] = small["symbol"].str.replace("S", "S00")  # S000..S002, as in the big file
    small_path = tmp_path / "small.parquet"
    small.to_parquet(small_path)
    first = subprocess.run(
        [sys.executable, "-m", "qt", "data", "ingest", str(small_path)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert first.returncode == 0, first.stderr
    with helpers.open(store_spec) as store:
        before = helpers.snapshot(store)

    # 300 symbols x 1,000 days: first overlapping the stored S000..S002 (PostgreSQL merges through a
    # temporary table), then all new symbols (PostgreSQL copies straight into the bars table)
    big = SyntheticData(n_assets=300, n_days=1000, seed=2).load().to_frame()
    big_path = tmp_path / "big.parquet"
    big.to_parquet(big_path)
    fresh_path = tmp_path / "fresh.parquet"
    big.assign(symbol=big["symbol"].str.replace("S", "N")).to_parquet(fresh_path)
    for path in (big_path, fresh_path):
        stdout, returncode = _kill_after_first_batch(path, env)
        assert returncode == -signal.SIGKILL
        assert "loaded" not in stdout
        with helpers.open(store_spec) as store:
            after = helpers.snapshot(store)
        assert before[0] == after[0]
        assert before[3] == after[3]
        pd.testing.assert_frame_equal(before[1], after[1])
        assert sum(c.rows for c in after[3]) == 60

    # and the store still works: the same ingest, uninterrupted, lands whole
    again = subprocess.run(
        [sys.executable, "-m", "qt", "data", "ingest", str(big_path)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert again.returncode == 0, again.stderr
    with helpers.open(store_spec) as store:
        assert sum(c.rows for c in store.coverage()) == 300_000
        assert np.array_equal(store.read(["S000"]).close[:, 0], big[big.symbol == "S000"]["close"].to_numpy())
