"""A damaged or foreign SQLite state file: one clear error naming it, and the file byte-identical afterwards.

Each form is made from a real qt store (or someone else's SQLite file): truncated, page-corrupted,
empty, not SQLite, someone else's database. Opening it for a run and ``qt live status`` both refuse
it before writing anything; status opens read-only and never switches a file to WAL.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
from store_child import T0, writer_bar
from v1_fixture import plant_v1

from qt.live.store import DamagedStoreError, FillRecord, OrderIntent, open_state_dir, open_store

PAGE = 4096


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def qt_store(folder: Path, bars: int = 300) -> Path:
    """A closed qt store with a day of trading and ``bars`` bars (many pages), as a live run leaves it."""
    with open_store("sqlite", state_dir=folder, run_name="r") as store:
        store.deposit(10_000.0, reason="initial capital", time=T0)
        store.record_intent(OrderIntent("o1", "r", T0, "AAPL", 10))
        store.record_fill(FillRecord("e1", "o1", "AAPL", 10, 100.0, 1.0, T0))
        with store.batch():
            for i in range(bars):
                store.record_bar(writer_bar("r", i), time=T0 + dt.timedelta(minutes=i))
    path = folder / "state.sqlite"
    assert path.stat().st_size > 8 * PAGE and not (folder / "state.sqlite-wal").exists()
    return path


def truncate_half(path: Path) -> None:
    pages = path.stat().st_size // PAGE
    with path.open("r+b") as f:
        f.truncate(pages // 2 * PAGE)


def truncate_mid_page(path: Path) -> None:
    with path.open("r+b") as f:
        f.truncate(path.stat().st_size - 1000)


def corrupt_pages(path: Path) -> None:
    """Overwrite the middle of pages 5-7 (b-tree pages of the tables) with a pattern no page holds."""
    with path.open("r+b") as f:
        for page in (5, 6, 7):
            f.seek((page - 1) * PAGE + 8)
            f.write(b"\xa5" * (PAGE - 16))


def empty(path: Path) -> None:
    path.write_bytes(b"")


def not_sqlite(path: Path) -> None:
    path.write_text("symbol,quantity\nAAPL,10\n")


FORMS: dict[str, tuple[Callable[[Path], None], str]] = {
    "truncated": (truncate_half, r"is damaged: the file is truncated: .* where its header says \d+ pages"),
    "truncated mid-page": (truncate_mid_page, r"is damaged: the file is truncated: .* not a whole number"),
    "page-corrupted": (corrupt_pages, r"is damaged: (SQLite's quick_check reports|SQLite reports)"),
    "empty": (empty, r"is empty \(0 bytes\)"),
    "not SQLite": (not_sqlite, r"is not a qt live state store: it is not a SQLite database"),
}


@pytest.mark.parametrize("form", list(FORMS))
def test_a_damaged_store_is_refused_before_anything_is_written(tmp_path: Path, form: str) -> None:
    folder = tmp_path / "state"
    path = qt_store(folder)
    damage, message = FORMS[form]
    damage(path)
    before = sha(path)
    for opening in (
        lambda: open_store("sqlite", state_dir=folder, run_name="r"),  # the live run
        lambda: open_state_dir(folder),  # qt live halt/resume
        lambda: open_state_dir(folder, read_only=True),  # qt live status
    ):
        with pytest.raises(DamagedStoreError, match=message) as caught:
            opening()
        text = str(caught.value)
        assert str(path) in text and "changed nothing" in text
        assert "Restore it from a backup" in text or "move the file away" in text or "move it away" in text
        assert sha(path) == before


def test_someone_elses_sqlite_file_is_never_switched_to_wal(tmp_path: Path) -> None:
    folder = tmp_path / "state"
    folder.mkdir()
    path = folder / "state.sqlite"
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("CREATE TABLE trades (symbol TEXT, quantity REAL)")
        conn.execute("INSERT INTO trades VALUES ('AAPL', 10)")
    before = sha(path)
    assert path.read_bytes()[18:20] == b"\x01\x01"  # rollback-journal mode
    for opening in (
        lambda: open_store("sqlite", state_dir=folder, run_name="r"),
        lambda: open_state_dir(folder, read_only=True),
    ):
        with pytest.raises(DamagedStoreError, match=r"is not a qt live state store: its tables \(trades\)"):
            opening()
    assert sha(path) == before and sorted(p.name for p in folder.iterdir()) == ["state.sqlite"]


def test_a_folder_where_the_store_file_should_be_is_refused(tmp_path: Path) -> None:
    (tmp_path / "state" / "state.sqlite").mkdir(parents=True)
    with pytest.raises(DamagedStoreError, match=r"state\.sqlite is not a qt live state store: it is not a file"):
        open_store("sqlite", state_dir=tmp_path / "state", run_name="r")


def test_a_new_store_is_created_whole_or_not_at_all(tmp_path: Path) -> None:
    folder = tmp_path / "state"
    with open_store("sqlite", state_dir=folder, run_name="r") as store:
        assert store.is_new and store.is_empty()
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith("state.sqlite")) == ["store.json"]
    with open_store("sqlite", state_dir=folder, run_name="r") as store:
        assert not store.is_new


def test_live_status_reads_without_writing(tmp_path: Path, qt_cli) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "state"
    path = qt_store(folder, bars=5)
    before = sha(path)
    ok = qt_cli("live", "status", "--state-dir", str(folder))
    assert ok.returncode == 0, ok.stderr
    assert "integrity" in ok.stdout and sha(path) == before


@pytest.mark.parametrize("form", ["page-corrupted", "truncated"])
def test_live_status_on_a_damaged_store_exits_2_naming_the_file(tmp_path: Path, qt_cli, form: str) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "state"
    path = qt_store(folder)
    FORMS[form][0](path)
    before = sha(path)
    result = qt_cli("live", "status", "--state-dir", str(folder))
    assert result.returncode == 2, result.stdout + result.stderr
    assert str(path) in result.stderr and "is damaged" in result.stderr
    assert "Traceback" not in result.stderr and sha(path) == before


def test_a_v1_state_folder_through_qt_live(tmp_path: Path, qt_cli) -> None:  # type: ignore[no-untyped-def]
    """status only looks (and says how to migrate); halt opens for writing and migrates; status then reads v2."""
    folder = tmp_path / "state"
    plant_v1({"kind": "sqlite", "state_dir": str(folder)})
    path = folder / "state.sqlite"
    before = sha(path)
    looked = qt_cli("live", "status", "--state-dir", str(folder))
    assert looked.returncode == 2 and "schema version 1; it is migrated to 2 when opened for writing" in looked.stderr
    assert sha(path) == before
    halted = qt_cli("live", "halt", "--state-dir", str(folder), "--reason", "after the upgrade")
    assert halted.returncode == 0, halted.stderr
    shown = qt_cli("live", "status", "--state-dir", str(folder), "--json")
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    assert report["store"]["schema_version"] == 2 and report["integrity"]["ok"] is True
    assert (report["trading_state"]["state"], report["trading_state"]["cause"]) == ("halted", "operator")
    assert report["positions"] == {"AAPL": 10.0} and report["events"] == 26  # qt 1's 25 events and the halt
