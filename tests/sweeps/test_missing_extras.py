"""A launcher whose optional extra is not installed says in one line what to install (exit 2, nothing written).

The extras are hidden from a real `qt` process by a ``sitecustomize`` that makes their
imports fail, as on a machine where only the runtime was installed (`make run`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import TINY

HIDE = """import sys
for name in ("ray", "submitit", "hydra_plugins.hydra_submitit_launcher", "hydra_plugins.hydra_submitit_launcher.config"):
    sys.modules[name] = None
"""


@pytest.mark.parametrize(
    ("launcher", "extra"), [("ray", "ray"), ("submitit_local", "submitit"), ("submitit_slurm", "submitit")]
)
def test_missing_extra_says_what_to_install(tmp_path: Path, launcher: str, extra: str) -> None:
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text(HIDE)
    proc = subprocess.run(
        [sys.executable, "-m", "qt", "run", "-m", f"hydra/launcher={launcher}", *TINY,
         "strategy.params.lookback=42,63", "hydra.sweep.dir=sweep"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(hide)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"ERROR: hydra/launcher: {launcher} needs the '{extra}' extra, which is not installed: "
        f"pip install 'qt[{extra}]' (make setup installs every extra)"
    ]
    assert not (tmp_path / "sweep").exists()
