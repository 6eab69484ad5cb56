"""A 64-run sweep (xmom, 500 x 5,000) through the basic, joblib (2 workers) and Ray (2 CPUs) launchers.

The data is a 500-asset x 5,000-day long-form Parquet file (as a user's file would be), so
each worker process loads and validates it once (the in-process memo) and the signal cache
is shared by every run. A warm-up sweep over the 8 lookbacks fills the signal and panel
caches first: the timed sweeps all run with warm caches. Reported: wall time of each whole
`qt run -m` process, joblib's speed-up over basic, the in-sweep cost of a run against its
engine + signals time (from the runs' manifests), and Ray's overhead per run.
Writes the "Sweeps" section of benchmarks/README.md.

Run: .venv/bin/python benchmarks/sweep.py
"""

from __future__ import annotations

import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from data_loading import write_long_parquet
from readme_section import write_section

QT = [sys.executable, "-m", "qt"]
LOOKBACKS = "42,63,84,105,126,168,210,252"
QUANTILES = "0.1,0.15,0.2,0.25,0.3,0.35,0.4,0.5"
N_RUNS = 64


CPU: dict[str, float] = {}


def sweep(cwd: Path, name: str, *args: str, env: dict[str, str]) -> float:
    """Wall time of one `qt run -m` process (its CPU time, workers included, into CPU); fails loudly if it does."""
    base = ["data=parquet", "data.path=prices.parquet", "strategy=xmom", "portfolio=equal"]
    base += ["report.progress=false", "report.top_n=0", f"hydra.sweep.dir={name}"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([*QT, "run", "-m", *base, *args], cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU[name] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    if done.returncode != 0:
        raise SystemExit(f"{name} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return wall


def manifests(sweep_dir: Path) -> list[dict[str, float]]:
    out = [json.loads(p.read_text())["timings"] for p in sweep_dir.glob("*/manifest.json")]
    assert len(out) == N_RUNS, f"{sweep_dir}: {len(out)} runs finished"
    return out


def ray_start_seconds(temp: Path, env: dict[str, str]) -> float:
    """Start-up and shutdown of a local 2-CPU Ray, measured alone."""
    code = (
        "import time, ray; t = time.perf_counter(); "
        f"ray.init(num_cpus=2, include_dashboard=False, _temp_dir='{temp}', configure_logging=False); "
        "print(time.perf_counter() - t); ray.shutdown()"
    )
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def ray_dispatch_ms(temp: Path, env: dict[str, str]) -> float:
    """Ray's own cost per run: 64 no-op tasks, each shipped a composed qt config as a run is, round trip."""
    code = f"""
import time, ray
from hydra import compose, initialize_config_dir
from qt.config.paths import conf_dir
import hydra_plugins.qt_sweeps
with initialize_config_dir(str(conf_dir()), version_base="1.3"):
    cfg = compose("config", overrides=["strategy=xmom"], return_hydra_config=True)
ray.init(num_cpus=2, include_dashboard=False, _temp_dir="{temp}", configure_logging=False)
noop = ray.remote(lambda c, s: c.strategy.params.lookback).options(num_cpus=1, max_retries=0)
shared = ray.put(("context", "task", {{}}, "."))
ray.get([noop.remote(cfg, shared) for _ in range(8)])  # workers started
t = time.perf_counter()
ray.get([noop.remote(cfg, shared) for _ in range({N_RUNS})])
print((time.perf_counter() - t) / {N_RUNS} * 1000)
ray.shutdown()
"""
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="qt-sweep-bench-") as tmp:
        cwd = Path(tmp)
        write_long_parquet(cwd / "prices.parquet")
        ray_temp = cwd / "ray"  # short enough for Ray's socket paths (< 107 characters)
        env = {**os.environ, "QT_CACHE_DIR": str(cwd / "cache"), "RAY_AUTH_MODE": "disabled", "COLUMNS": "120"}
        grid = [f"strategy.params.lookback={LOOKBACKS}", f"strategy.params.quantile={QUANTILES}"]
        warm = sweep(cwd, "warm", f"strategy.params.lookback={LOOKBACKS}", env=env)
        basic = sweep(cwd, "basic", *grid, env=env)
        joblib = sweep(cwd, "joblib", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", *grid, env=env)
        ray_init = ray_start_seconds(ray_temp, env)
        ray = sweep(
            cwd, "ray", "hydra/launcher=ray", "hydra.launcher.num_cpus=2", f"hydra.launcher.temp_dir={ray_temp}", *grid,
            env=env,
        )  # fmt: skip
        dispatch = ray_dispatch_ms(ray_temp, env)
        load_avg = os.getloadavg()[1]
        timings = manifests(cwd / "basic")
        outputs = statistics.mean(t["outputs_s"] for t in timings)
        engine_signals = statistics.mean(t["engine_s"] + t["signals_s"] for t in timings)
        run_total = statistics.mean(t["total_s"] for t in timings)
        load = statistics.mean(t["load_s"] for t in timings)
    per_run = basic / N_RUNS
    speedup = basic / joblib
    cpu_basic, cpu_joblib = CPU["basic"], CPU["joblib"]
    idle_speedup = cpu_basic / (cpu_joblib / 2)  # both workers busy all along, nothing else on the cores
    today = dt.date.today().isoformat()
    section = f"""
## Sweeps (`benchmarks/sweep.py`)

A 64-run grid (xmom: 8 lookbacks x 8 quantiles, equal weights) on a 500-asset x 5,000-day long-form
Parquet file, warm signal and panel caches (a warm-up sweep over the 8 lookbacks ran first). Wall time
of each whole `qt run -m` process, 2 cores shared with other work, {today}.

| what | measured | target |
|---|---|---|
| basic launcher, 64 runs | {basic:.1f} s ({per_run:.2f} s per run) |  |
| joblib, `hydra.launcher.n_jobs=2` | {joblib:.1f} s | |
| joblib speed-up over basic, wall time | {speedup:.2f}x | ≥ 1.8x |
| CPU time of the whole sweep (workers included): basic / joblib | {cpu_basic:.1f} s / {cpu_joblib:.1f} s | |
| joblib speed-up on an idle 2-core machine, from CPU time (basic CPU / half joblib's) | {idle_speedup:.2f}x | ≥ 1.8x |
| a run inside the basic sweep (wall / 64) vs its engine + signals ({engine_signals:.3f} s) | {per_run / engine_signals:.1f}x | ≤ 1.2x |
| Ray (local, 2 CPUs), 64 runs | {ray:.1f} s, of which Ray's start-up {ray_init:.1f} s | |
| Ray's own cost per run (a no-op task shipped a composed config, round trip) | {dispatch:.1f} ms | |

The machine's load average during the benchmark was {load_avg:.1f} on its 2 cores (other jobs), so
absolute times are several times those of an idle machine (engine + signals of one run are ~0.1 s
idle, see "Backtest spine") and wall-time ratios between launchers move with the other jobs' load
(runs of this script measured joblib at 2.04x and at 0.85x of basic). CPU time does not depend on
that load: joblib's extra CPU over basic is its whole overhead (worker start-up and imports, shipping
configs), and half its CPU time is what its 2 workers would take on idle cores.

Inside a run (manifest timings, mean): load {load:.3f} s (the in-process memo: each worker parses
the file once), engine + signals {engine_signals:.3f} s, writing the result files {outputs:.3f} s, whole
backtest {run_total:.3f} s. The rest of a run's {per_run:.2f} s is Hydra composing its config
(~0.4 s idle: qt's defaults list is ~20 YAML files, parsed and merged for every job; caching the
parsed YAML did not help, the merge dominates), performance.json, and the job's logging set-up.
So the ≤ 1.2x target is missed: writing the outputs alone costs about as much as engine + signals,
and the compose is a fixed cost per run of Hydra's. The warm-up sweep (8 runs, cold caches) took {warm:.1f} s.
"""
    write_section("sweep", section)
    print(section)


if __name__ == "__main__":
    main()
