"""``qt rerun RUN_DIR``: run again from the manifest into a fresh directory; "identical", or what changed.

The run is repeated with the same command-line overrides from the same working
directory. Result files are compared byte for byte (the tearsheet with the run
directory's own path and name masked); timing-only files (manifest.json's timings,
run.log, .hydra/hydra.yaml) are left out. When anything differs the inputs that changed
are named: a data file by path, a package version, the code (git commit or uncommitted
changes), a config key; then each result file that differs.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from qt.commands.diff import config_changes, data_changes, read_json
from qt.errors import QtError
from qt.results.folder import read_manifest

SKIPPED = frozenset({"manifest.json", "run.log", ".hydra/hydra.yaml"})  # timings, log lines, the run directory
LOCATION_DEPENDENT = frozenset({"tearsheet.html"})  # shows the run directory: compared with it masked
MASKED = "<redacted>"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """RUN_DIR, --out."""
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a finished run's directory (with manifest.json)")
    parser.add_argument("--out", type=Path, default=None, help="where to rerun (default: RUN_DIR-rerun-N beside it)")
    parser.add_argument(
        "--full",
        action="store_true",
        help="a lean sweep run: run it again and add its full files (weights, orders, fills, decisions, "
        "performance.json, tearsheet) into RUN_DIR, after checking the recorded ones come out byte-identical",
    )


def run(args: argparse.Namespace) -> int:
    """Rerun, compare, print; 0 when identical, 1 when something changed."""
    original = Path(args.run_dir).resolve()
    manifest = read_manifest(original)
    if args.full:
        return _full(original)
    overrides = manifest.get("overrides")
    if overrides is None and manifest.get("mode") == "live":
        raise QtError(
            f"{args.run_dir} is a live state folder, not a backtest run: continue it with the same `qt run mode=live "
            f"... live.state_dir={args.run_dir}`, or see it with `qt tearsheet {args.run_dir}`"
        )
    if overrides is None:
        raise QtError(f"{original}/manifest.json has no 'overrides' (written by an older qt); run it again by hand")
    replay = [o for o in overrides if MASKED not in o]
    for o in overrides:
        if MASKED in o:
            print(f"note: {o.split('=', 1)[0]} was a secret and is not replayed; set it through the environment")
    fresh = Path(args.out).resolve() if args.out else _fresh_dir(original)
    cwd = Path(manifest.get("cwd") or os.getcwd())
    proc = subprocess.run(
        [sys.executable, "-m", "qt", "run", *replay, f"hydra.run.dir={fresh}"],
        cwd=cwd if cwd.is_dir() else None,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise QtError(f"the rerun in {fresh} failed (exit {proc.returncode}): " + " | ".join(tail))
    lines = compare(original, fresh, manifest, read_json(fresh / "manifest.json"))
    print(f"rerun: {fresh}")
    print("\n".join(lines))
    return 0 if lines[0] == "identical" else 1


def _full(run_dir: Path) -> int:
    """Materialize a lean run's full files in place (0), or say it already has them (0)."""
    from qt.sweeps.materialize import is_lean, rerun_full

    if (run_dir / "weights.parquet").is_file() and not is_lean(run_dir):
        print(f"{run_dir}: already has its full files")
        return 0
    added = rerun_full(run_dir)
    print(f"rerun: {run_dir} (equity.parquet and metrics.json came out byte-identical)")
    print(f"added: {', '.join(added) if added else 'nothing'}")
    return 0


def compare(original: Path, fresh: Path, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """``identical`` (noting inputs that changed without changing results), or what changed and what differs."""
    inputs = input_changes(old, new)
    outputs = output_changes(original, fresh)
    if not outputs:
        return ["identical", *(f"note: {c} (the results did not change)" for c in inputs)]
    return [*(f"changed: {c}" for c in inputs), *(f"differs: {name}" for name in outputs)]


def input_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Data files, package versions, code and config that differ between two manifests."""
    out = [f"data file {d}" for d in data_changes(old, new) if not d.startswith("panel fingerprint")]
    if not out and old.get("data_fingerprint") != new.get("data_fingerprint"):
        out.append(f"data (panel fingerprint {old.get('data_fingerprint')} -> {new.get('data_fingerprint')})")
    versions_a, versions_b = old.get("versions") or {}, new.get("versions") or {}
    for pkg in sorted(versions_a.keys() & versions_b.keys()):  # a package one run never imported is no change
        if versions_a.get(pkg) != versions_b.get(pkg):
            out.append(f"package {pkg} {versions_a.get(pkg)} -> {versions_b.get(pkg)}")
    if old.get("git_commit") != new.get("git_commit"):
        out.append(f"code: git commit {old.get('git_commit')} -> {new.get('git_commit')}")
    if (old.get("git_dirty"), old.get("git_diff")) != (new.get("git_dirty"), new.get("git_diff")):
        out.append(f"code: uncommitted changes (then: {_dirty(old)}, now: {_dirty(new)})")
    if old.get("config_hash") != new.get("config_hash"):
        keys = [k for k, _, _ in config_changes(old.get("config") or {}, new.get("config") or {})]
        out.append("config: " + (", ".join(keys) if keys else "the resolved config (hash) differs"))
    return out


def _dirty(manifest: dict[str, Any]) -> str:
    if not manifest.get("git_dirty"):
        return "none"
    return f"diff {str(manifest.get('git_diff'))[:12]}"


def output_changes(original: Path, fresh: Path) -> list[str]:
    """Result files of ``original`` that are missing from or differ in ``fresh`` (and files only in ``fresh``)."""
    a, b = _result_files(original), _result_files(fresh)
    out = []
    for name in sorted(a | b):
        if name not in b:
            out.append(f"{name} (missing from the rerun)")
        elif name not in a:
            if name not in LOCATION_DEPENDENT:  # a sweep's run may have had no tearsheet; a single run writes one
                out.append(f"{name} (new in the rerun)")
        elif not _same(original, fresh, name):
            out.append(name)
    return out


def _result_files(run_dir: Path) -> set[str]:
    return {
        p.relative_to(run_dir).as_posix()
        for p in run_dir.rglob("*")
        if p.is_file() and ".partial" not in p.parts and p.relative_to(run_dir).as_posix() not in SKIPPED
    }


def _same(a: Path, b: Path, name: str) -> bool:
    bytes_a, bytes_b = (a / name).read_bytes(), (b / name).read_bytes()
    if bytes_a == bytes_b:
        return True
    if name in LOCATION_DEPENDENT:
        return _masked(bytes_a, a) == _masked(bytes_b, b)
    return False


def _masked(content: bytes, run_dir: Path) -> bytes:
    """The run directory's path and ``(name)`` replaced by fixed markers (<RUN_DIR>, <RUN>)."""
    return content.replace(str(run_dir).encode(), b"<RUN_DIR>").replace(f"({run_dir.name})".encode(), b"(<RUN>)")


def _fresh_dir(original: Path) -> Path:
    for k in range(1, 1000):
        candidate = original.with_name(f"{original.name}-rerun-{k}")
        if not candidate.exists():
            return candidate
    raise QtError(f"{original}: 999 reruns already beside it; pass --out DIR")
