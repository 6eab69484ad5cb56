"""Two `qt run` processes started at the same moment write two folders, each with its own config and results."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from omegaconf import OmegaConf

from qt.sweeps.run_id import new_run_id

from .conftest import TINY


def test_run_id_is_short_hex_and_fresh() -> None:
    # 300 draws of 16.7 M values: a repeat has probability 0.27%, two repeats 4e-6 (1,000 draws repeat 3% of the time)
    ids = [new_run_id() for _ in range(300)]
    assert len(set(ids)) >= 299 and all(re.fullmatch(r"[0-9a-f]{6}", i) for i in ids)


def test_two_runs_started_together_get_two_folders(tmp_path) -> None:
    env = {**os.environ, "COLUMNS": "120"}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "qt",
                "run",
                *TINY,
                f"strategy.params.lookback={lookback}",
                "report.tearsheet=false",
            ],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for lookback in (42, 84)
    ]
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, out.decode()[-2000:]
    folders = sorted(p for p in (tmp_path / "outputs").glob("20*/*") if p.is_dir())
    assert len(folders) == 2, folders
    names = [f.name for f in folders]
    assert all(re.fullmatch(r"\d\d-\d\d-\d\d-[0-9a-f]{6}", n) for n in names), names
    lookbacks = set()
    for folder in folders:
        config = OmegaConf.load(folder / ".hydra" / "config.yaml")
        overrides = OmegaConf.load(folder / ".hydra" / "overrides.yaml")
        lookback = config.strategy.params.lookback
        assert f"strategy.params.lookback={lookback}" in overrides  # config and overrides of the same run
        metrics = json.loads((folder / "metrics.json").read_text())
        manifest = json.loads((folder / "manifest.json").read_text())
        assert metrics["sharpe"] is not None and manifest["config_hash"]
        lookbacks.add(lookback)
    assert lookbacks == {42, 84}
