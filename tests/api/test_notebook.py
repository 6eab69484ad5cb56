"""docs/research_example.ipynb executes top to bottom (nbclient, a python3 kernel on this interpreter)."""

import json
import sys
from pathlib import Path

import nbformat
import pandas as pd
from nbclient import NotebookClient

from tests.conftest import REPO

NOTEBOOK = REPO / "docs" / "research_example.ipynb"


def _kernel_on_this_python(root: Path) -> Path:
    """A python3 kernelspec running ``sys.executable`` (the venv's), found first through JUPYTER_PATH."""
    spec = root / "kernels" / "python3"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "qt venv", "language": "python"}))
    return root


def test_the_example_notebook_executes(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_PATH", str(_kernel_on_this_python(tmp_path / "jupyter")))
    work = tmp_path / "work"
    work.mkdir()
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.executable)"))
    NotebookClient(nb, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(work)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    assert nb.cells[-1].outputs[0]["text"].strip() == sys.executable
    # what the cells left on disk: one run, one sweep of two runs, one walk-forward
    sweeps = list((work / "outputs" / "multirun").glob("*/*/leaderboard.parquet"))
    assert len(sweeps) == 1 and len(pd.read_parquet(sweeps[0])) == 2
    assert len(list((work / "outputs").glob("*/*/walk_forward.json"))) == 1
    tearsheet_cell = next(c for c in nb.cells if c.cell_type == "code" and c.source == "result")
    assert "text/html" in tearsheet_cell.outputs[0]["data"]
