"""A run folder read back: is this folder a qt run at all, and its manifest (what the run recorded of itself).

Every tool that takes a run folder (``qt rerun``, ``qt diff``, ``qt tearsheet``) asks here first, so a
folder that is not a run gets the same one-line answer everywhere, never a comparison of nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qt.errors import QtError

MANIFEST = "manifest.json"
ERROR_FILE = "error.json"  # what a failed run leaves instead of results


def read_manifest(folder: Path) -> dict[str, Any]:
    """The run's manifest; QtError naming the folder when it is missing, not a folder, not a run, or damaged."""
    folder = Path(folder)
    if not folder.exists():
        raise QtError(f"{folder}: no such folder; pass a run directory such as outputs/DATE/TIME")
    if not folder.is_dir():
        raise QtError(f"{folder} is a file, not a run directory; pass a folder such as outputs/DATE/TIME")
    path = folder / MANIFEST
    if not path.is_file() and (folder / ERROR_FILE).is_file():
        raise QtError(f"{folder} is a run that failed: {_failure(folder / ERROR_FILE)} (see {folder / ERROR_FILE})")
    if not path.is_file():
        raise QtError(f"{folder} is not a qt run (no {MANIFEST}); pass a run directory such as outputs/DATE/TIME")
    try:
        data = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise QtError(f"{path} is damaged (not valid JSON: {exc}); run the experiment again with `qt run`") from None
    except OSError as exc:
        raise QtError(f"{path} cannot be read ({exc.strerror}); check its permissions") from None
    if not isinstance(data, dict):
        raise QtError(f"{path} is damaged (a JSON object was expected); run the experiment again with `qt run`")
    return data


def require_full(folder: Path, manifest: dict[str, Any]) -> None:
    """A lean sweep run keeps only equity, metrics and manifest: say how to get the rest."""
    if manifest.get("outputs") == "lean" and not (folder / "weights.parquet").is_file():
        raise QtError(
            f"{folder} is a lean sweep run (equity and metrics only); write its full files first: qt rerun {folder} --full"
        )


def _failure(path: Path) -> str:
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return "its error.json is unreadable"
    return str(record.get("error") or "no message recorded") if isinstance(record, dict) else "no message recorded"


def is_sweep(folder: Path) -> bool:
    """A sweep folder holds Hydra's multirun.yaml or a leaderboard."""
    return (folder / "multirun.yaml").is_file() or (folder / "leaderboard.parquet").is_file()
