"""A sweep says its workers and its throughput: runs per minute and where a run's time went."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from qt.sweeps.throughput import measure
from qt.sweeps.workers import joblib_workers

from .conftest import TINY, qt


def _manifest(folder: Path, **timings: float) -> Path:
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({"timings": timings}))
    return folder


def test_measure_by_hand(tmp_path: Path) -> None:
    a = _manifest(tmp_path / "0", load_s=0.1, signals_s=0.2, engine_s=1.0, outputs_s=0.1)
    b = _manifest(tmp_path / "1", load_s=0.3, signals_s=0.0, engine_s=1.4, outputs_s=0.3)
    failed = tmp_path / "2"
    failed.mkdir()  # no manifest: not a finished run
    t = measure([a, b, failed], wall_s=3.0, workers=2)
    assert t is not None and t.runs == 2
    assert t.runs_per_minute == pytest.approx(40.0)  # 2 runs in 3 s
    assert (t.load_s, t.signals_s, t.engine_s, t.outputs_s) == pytest.approx((0.2, 0.1, 1.2, 0.2))
    # a worker's time per run: 2 workers x 3 s / 2 runs = 3 s; the steps take 1.7 s of it
    assert t.overhead_s == pytest.approx(1.3)
    assert t.cost_ratio == pytest.approx(3.0 / 1.3)
    assert measure([failed], wall_s=1.0, workers=1) is None


@pytest.mark.parametrize(("n_jobs", "runs", "count"), [(2, 64, 2), (4, 3, 3), (1, 10, 1), ("bad", None, None)])
def test_joblib_workers(n_jobs: object, runs: int | None, count: int | None) -> None:
    from qt.sweeps.workers import cores

    expected = count if count is not None else cores()
    assert joblib_workers(n_jobs, runs).count == expected


def test_sweep_prints_workers_and_throughput(tmp_path: Path) -> None:
    out = qt("run", "-m", *TINY, "strategy.params.lookback=42,63", "report.top_n=0", "hydra.sweep.dir=s", cwd=tmp_path)
    lines = out.stdout.splitlines()
    assert lines[0].startswith("sweep: 2 runs on 1 worker (the basic launcher runs them one after another")
    line = next(x for x in lines if x.startswith("throughput: "))
    saved = json.loads((tmp_path / "s" / "throughput.json").read_text())
    assert saved["runs"] == 2 and saved["workers"] == 1
    assert f"{saved['runs_per_minute']:.1f} runs/min" in line
    engines = [json.loads((tmp_path / "s" / r / "manifest.json").read_text())["timings"]["engine_s"] for r in "01"]
    assert saved["engine_s"] == pytest.approx(sum(engines) / 2)
    assert re.search(r"load [\d.]+, signals [\d.]+, engine [\d.]+, outputs [\d.]+, overhead [\d.]+", line)
