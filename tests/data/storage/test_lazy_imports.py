"""Database drivers load only when a store is opened: `qt --help` and `qt data --help` stay fast."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
import qt.cli, qt.commands.data, qt.data.storage, qt.data.sources.store
print(sorted(m for m in ("duckdb", "psycopg", "exchange_calendars") if m in sys.modules))
"""


def test_drivers_are_not_imported_until_a_store_opens() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
