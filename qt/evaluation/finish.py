"""After a backtest: benchmark series, full analytics (performance.json) and the tearsheet, written together.

Called once a run's results are on disk. In a sweep the tearsheet is skipped (the
leaderboard writes it for the top runs afterwards); performance.json and the benchmark
series are always written, so any run can be re-rendered later without its data.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qt.config.jsonsafe import dumps
from qt.evaluation.benchmark import FILE as BENCHMARK_FILE
from qt.evaluation.benchmark import Benchmark, resolve
from qt.evaluation.performance import Performance, analyze
from qt.evaluation.run_data import load_run
from qt.evaluation.tearsheet import FILE as TEARSHEET_FILE
from qt.evaluation.tearsheet import Analyzed, render, text_writer

if TYPE_CHECKING:
    from qt.results.result import RunResult

PERFORMANCE_FILE = "performance.json"


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """The analytics of a finished run and the tearsheet's path (None when not written)."""

    performance: Performance
    tearsheet: Path | None


def evaluate_run(
    run_dir: Path,
    result: RunResult,
    *,
    benchmark: str | None,
    tearsheet: bool,
    log_scale: bool = False,
) -> Evaluation:
    """Analyze the run in ``run_dir`` and write performance.json, benchmark.parquet and tearsheet.html."""
    from qt.results.writer import write_atomically

    bench = resolve(benchmark, result.panel) if benchmark else None
    run = load_run(run_dir)
    if bench is not None:
        run = dataclasses.replace(run, benchmark_name=bench.name, benchmark_returns=bench.returns)
    run = dataclasses.replace(run, final_marks=final_marks(result))
    perf = analyze(run)
    writers: dict[str, Callable[[Path], None]] = {
        PERFORMANCE_FILE: text_writer(performance_json(perf, run.final_marks)),
    }
    if bench is not None:
        writers[BENCHMARK_FILE] = lambda p: write_benchmark(bench, run.timestamps, p)
    if tearsheet:
        html = render([Analyzed(run, perf)], log_scale=log_scale)
        writers[TEARSHEET_FILE] = text_writer(html)
    write_atomically(run_dir, writers)
    return Evaluation(perf, run_dir / TEARSHEET_FILE if tearsheet else None)


def write_benchmark(bench: Benchmark, stamps: Any, path: Path) -> None:
    """timestamp, return per bar; the benchmark's name in the file's metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"timestamp": pa.array(stamps, type=pa.timestamp("us")), "return": bench.returns})
    table = table.replace_schema_metadata({"qt.benchmark": bench.name})
    pq.write_table(table, path, compression="zstd")


def final_marks(result: RunResult) -> dict[str, float]:
    """Each symbol's last finite mark price (what open positions are valued at on the last bar)."""
    marks = np.asarray(result.panel.mark_prices, dtype=np.float64)
    finite = np.isfinite(marks)
    last = np.where(finite.any(axis=0), marks.shape[0] - 1 - np.argmax(finite[::-1], axis=0), -1)
    return {
        str(s): float(marks[i, j]) for j, (s, i) in enumerate(zip(result.panel.symbols, last, strict=True)) if i >= 0
    }


def performance_json(perf: Performance, marks: dict[str, float] | None = None) -> str:
    """The scalar statistics, drawdowns, annual returns, P&L per symbol and final prices, as JSON (NaN -> null)."""
    data: dict[str, Any] = {
        "summary": perf.summary,
        "drawdowns": [d.as_dict() for d in perf.drawdowns],
        "annual_returns": {str(k): float(v) for k, v in perf.annual.items()},
        "rolling_window": perf.rolling_window,
    }
    if perf.contribution is not None:
        data["contribution"] = {str(k): float(v) for k, v in perf.contribution.items()}
    if marks is not None:
        data["final_marks"] = marks
    return dumps(data)
