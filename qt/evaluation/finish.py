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

from qt.config.jsonsafe import dumps
from qt.evaluation.benchmark import FILE as BENCHMARK_FILE
from qt.evaluation.benchmark import Benchmark, resolve
from qt.evaluation.performance import Performance, analyze
from qt.evaluation.run_data import load_run
from qt.evaluation.tearsheet import FILE as TEARSHEET_FILE
from qt.evaluation.tearsheet import Analyzed, render, text_writer

if TYPE_CHECKING:
    from qt.backtest.engine import BacktestResult

PERFORMANCE_FILE = "performance.json"


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """The analytics of a finished run and the tearsheet's path (None when not written)."""

    performance: Performance
    tearsheet: Path | None


def evaluate_run(
    run_dir: Path,
    result: BacktestResult,
    *,
    benchmark: str | None,
    tearsheet: bool,
    log_scale: bool = False,
) -> Evaluation:
    """Analyze the run in ``run_dir`` and write performance.json, benchmark.parquet and tearsheet.html."""
    from qt.backtest.outputs import write_atomically

    bench = resolve(benchmark, result.panel) if benchmark else None
    run = load_run(run_dir)
    if bench is not None:
        run = dataclasses.replace(run, benchmark_name=bench.name, benchmark_returns=bench.returns)
    perf = analyze(run)
    writers: dict[str, Callable[[Path], None]] = {
        PERFORMANCE_FILE: text_writer(performance_json(perf)),
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


def performance_json(perf: Performance) -> str:
    """The scalar statistics, the drawdown table and annual returns, as JSON (NaN -> null)."""
    data = {
        "summary": perf.summary,
        "drawdowns": [d.as_dict() for d in perf.drawdowns],
        "annual_returns": {str(k): float(v) for k, v in perf.annual.items()},
        "rolling_window": perf.rolling_window,
    }
    return dumps(data)
