"""Whose state folder this is: the data source and symbols, strategy and run name it was created for.

Recorded once, when a state folder's store is created (``STATE_DIR/identity.json``), and checked at
every later start before anything is written: a folder made for other data or another strategy is
refused with one message naming both sides (a replay of other bars would index past their end).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from qt.errors import ConfigError

IDENTITY_FILE = "identity.json"


@dataclass(frozen=True)
class FolderIdentity:
    """What a state folder belongs to.

    Examples
    --------
    >>> a = FolderIdentity("sample", ("AAPL", "MSFT"), "xmom", "xmom-sample-paper")
    >>> a.differences(FolderIdentity("store", ("AAPL",), "xmom", "xmom-sample-paper"))
    ['data: sample vs store', 'symbols: AAPL,MSFT vs AAPL']
    """

    data: str
    symbols: tuple[str, ...]
    strategy: str
    run_name: str

    def differences(self, other: FolderIdentity) -> list[str]:
        """``key: self's vs other's`` for each field that differs."""
        out = []
        for key in ("data", "symbols", "strategy", "run_name"):
            mine, theirs = getattr(self, key), getattr(other, key)
            if mine != theirs:
                show = lambda v: ",".join(v) if isinstance(v, tuple) else str(v)  # noqa: E731
                out.append(f"{key}: {show(mine)} vs {show(theirs)}")
        return out

    def describe(self) -> str:
        """One line: data (n symbols), strategy, run name."""
        return f"data {self.data} ({len(self.symbols)} symbols), strategy {self.strategy}, run {self.run_name}"

    @classmethod
    def read(cls, folder: Path) -> FolderIdentity | None:
        """The identity recorded in ``folder`` (None for a folder without one)."""
        path = folder / IDENTITY_FILE
        if not path.exists():
            return None
        try:
            raw = json.loads(path.read_text())
            return cls(str(raw["data"]), tuple(map(str, raw["symbols"])), str(raw["strategy"]), str(raw["run_name"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                "live.state_dir",
                f"{path} is unreadable ({exc}); it says which data and strategy the folder belongs to: restore it "
                "from a backup, or choose another live.state_dir",
            ) from None

    def write(self, folder: Path) -> None:
        """Record this identity in ``folder`` (atomically; never over an existing one)."""
        path = folder / IDENTITY_FILE
        if path.exists():
            return
        tmp = folder / f".{IDENTITY_FILE}.{os.getpid()}"
        tmp.write_text(json.dumps({**asdict(self), "symbols": list(self.symbols)}, indent=2) + "\n")
        os.replace(tmp, path)

    def check(self, folder: Path) -> None:
        """Refuse ``folder`` when it was created for another data source, symbols, strategy or run name."""
        recorded = FolderIdentity.read(folder)
        if recorded is None:
            return
        diff = recorded.differences(self)
        if diff:
            raise ConfigError(
                "live.state_dir",
                f"{folder} belongs to another run ({recorded.describe()}); this run is {self.describe()}. "
                f"Differs (folder vs this run): {'; '.join(diff)}. Choose another live.state_dir for this run "
                "(the default, live/STRATEGY-DATA-BROKER, differs per strategy and data), or run the folder's own "
                "config again",
            )
