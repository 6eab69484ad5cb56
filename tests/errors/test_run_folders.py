"""Tools given a folder that is not theirs say so in one line (exit 2), never compare or render nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.errors.conftest import run_qt


@pytest.fixture
def folders(tmp_path: Path) -> Path:
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("buy low\n")
    (tmp_path / "damaged").mkdir()
    (tmp_path / "damaged" / "manifest.json").write_text("{not json")
    (tmp_path / "file.txt").write_text("x")
    return tmp_path


CASES = [
    (("rerun", "empty"), "empty is not a qt run (no manifest.json)"),
    (("rerun", "damaged"), "damaged/manifest.json is damaged (not valid JSON"),
    (("rerun", "file.txt"), "file.txt is a file, not a run directory"),
    (("diff", "empty", "notes"), "empty is not a qt run (no manifest.json)"),
    (("diff", "damaged", "damaged"), "damaged/manifest.json is damaged"),
    (("diff", "nowhere", "empty"), "nowhere: no such folder"),
    (("tearsheet", "notes"), "notes is not a qt run (no manifest.json)"),
    (("tearsheet", "damaged"), "damaged/manifest.json is damaged"),
]


@pytest.mark.parametrize(("args", "fragment"), CASES, ids=[" ".join(a) for a, _ in CASES])
def test_a_folder_that_is_not_a_run_gets_one_line(folders: Path, args: tuple[str, ...], fragment: str) -> None:
    before = sorted(str(p.relative_to(folders)) for p in folders.rglob("*"))
    out = run_qt(folders, *args)
    assert out.returncode == 2, (out.returncode, out.stdout, out.stderr)
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and fragment in lines[0], out.stderr
    assert "Traceback" not in out.stderr and out.stdout.strip() == ""
    assert sorted(str(p.relative_to(folders)) for p in folders.rglob("*")) == before  # nothing written


def test_a_failed_run_points_at_its_error(tmp_path: Path) -> None:
    failed = tmp_path / "failed"
    failed.mkdir()
    (failed / "error.json").write_text('{"error": "data.path: no such file", "type": "DataError"}')
    out = run_qt(tmp_path, "tearsheet", "failed")
    assert out.returncode == 2
    assert out.stderr.strip() == (
        f"error: failed is a run that failed: data.path: no such file (see {Path('failed') / 'error.json'})"
    )


def test_a_lean_sweep_run_says_how_to_get_its_full_files(tmp_path: Path) -> None:
    lean = tmp_path / "lean"
    lean.mkdir()
    (lean / "manifest.json").write_text('{"outputs": "lean"}')
    out = run_qt(tmp_path, "tearsheet", "lean")
    assert out.returncode == 2
    assert out.stderr.strip() == (
        "error: lean is a lean sweep run (equity and metrics only); write its full files first: qt rerun lean --full"
    )
