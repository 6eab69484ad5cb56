"""Results appear together or not at all."""

from __future__ import annotations

import pytest

from qt.results.writer import STAGING, write_atomically


def test_a_failing_writer_leaves_no_file_behind(tmp_path):
    def boom(path):
        raise RuntimeError("disk full")

    writers = {"a.json": lambda p: p.write_text("{}"), "b.parquet": boom}
    with pytest.raises(RuntimeError, match="disk full"):
        write_atomically(tmp_path, writers)
    assert list(tmp_path.iterdir()) == []


def test_all_files_land_and_staging_is_removed(tmp_path):
    write_atomically(tmp_path, {"a.json": lambda p: p.write_text("1"), "b.json": lambda p: p.write_text("2")})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.json"]
    assert not (tmp_path / STAGING).exists()
