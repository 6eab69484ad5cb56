"""Tearsheet of a 20-year daily run with 500 assets: render time (target <= 3 s) and file size (<= 5 MB).

Workload: data=synthetic 500 assets x 5,040 days (20 years of trading days), xmom monthly
and xmom rebalanced weekly (more decisions, more holdings rows), long-short with a
benchmark (equal_weight) so every chart is drawn. The run is made once by `qt run`
with report.tearsheet=false; the timed step is what `qt tearsheet RUN_DIR` does: read the
outputs, compute every statistic, render and write the HTML.
Run: .venv/bin/python benchmarks/tearsheet.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import pyarrow.parquet as pq
from readme_section import write_section

from qt.evaluation.tearsheet import write_tearsheet

REPEAT = 5
SIZE = ("data=synthetic", "data.n_assets=500", "data.n_days=5040", "data.seed=7")
CASES = {
    "monthly xmom, long-short": ("strategy.params.long_short=true",),
    "weekly xmom, long-short": ("strategy.params.long_short=true", "strategy.params.frequency=weekly"),
}
TARGET_S, TARGET_MB = 3.0, 5.0


def make_run(run_dir: Path, extra: tuple[str, ...]) -> None:
    args = [sys.executable, "-m", "qt", "run", *SIZE, *extra, "benchmark=equal_weight", "report.tearsheet=false"]
    subprocess.run([*args, f"hydra.run.dir={run_dir}"], check=True, capture_output=True, text=True)


def measure(run_dir: Path) -> tuple[list[float], int]:
    times = []
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        path = write_tearsheet(run_dir)
        times.append(time.perf_counter() - t0)
    return times, path.stat().st_size


def cli_seconds(run_dir: Path) -> float:
    """The whole `qt tearsheet RUN_DIR` process: interpreter start, imports, render."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "qt", "tearsheet", str(run_dir)], check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> int:
    rows, ok = [], True
    with tempfile.TemporaryDirectory() as tmp:
        for label, extra in CASES.items():
            run_dir = Path(tmp) / label.replace(" ", "_").replace(",", "")
            make_run(run_dir, extra)
            weights_rows = pq.read_metadata(run_dir / "weights.parquet").num_rows
            times, size = measure(run_dir)
            median, worst = statistics.median(times), max(times)
            cold = statistics.median(cli_seconds(run_dir) for _ in range(3))
            mb = size / 1e6
            ok &= worst <= TARGET_S and cold <= TARGET_S and mb <= TARGET_MB
            rows.append(f"| {label} | {weights_rows:,} | {median:.2f} s | {worst:.2f} s | {cold:.2f} s | {mb:.2f} MB |")
            print(
                f"{label}: median {median:.2f} s, worst {worst:.2f} s, cold CLI {cold:.2f} s, {mb:.2f} MB", flush=True
            )
    verdict = "within" if ok else "OUTSIDE"
    md = "\n".join(
        [
            "## Tearsheet (issue 5)",
            "",
            "`qt tearsheet RUN_DIR` on a 20-year daily run: synthetic 500 assets x 5,040 days, benchmark=equal_weight.",
            f"Read outputs + every statistic + render + write, {REPEAT} repeats. Targets: <= {TARGET_S:.0f} s, "
            f"<= {TARGET_MB:.0f} MB ({verdict} both).",
            "",
            "| run | weights.parquet rows | median (in process) | worst | `qt tearsheet` process, cold | tearsheet.html |",
            "|---|---:|---:|---:|---:|---:|",
            *rows,
            "",
            "Run: `.venv/bin/python benchmarks/tearsheet.py`",
        ]
    )
    write_section("tearsheet", md)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
