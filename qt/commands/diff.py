"""``qt diff RUN_A RUN_B``: the config keys that differ, whether the data differs, then metrics side by side.

Works on two runs or two sweeps (a sweep's leaderboards are joined on their overrides).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from qt.errors import QtError
from qt.results.folder import is_sweep, read_manifest

MISSING = "<absent>"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """RUN_A RUN_B."""
    parser.add_argument("run_a", type=Path, metavar="RUN_A", help="a run (or sweep) directory")
    parser.add_argument("run_b", type=Path, metavar="RUN_B", help="another run (or sweep) directory")


def run(args: argparse.Namespace) -> int:
    """Print the differences; 0 when configs, data and metrics are the same, else 1."""
    a, b = Path(args.run_a), Path(args.run_b)
    for d in (a, b):
        if not d.is_dir() or not is_sweep(d):
            read_manifest(d)  # a run, or one clear line saying this folder is not one
    if is_sweep(a) != is_sweep(b):
        raise QtError(f"{a} and {b}: compare two runs or two sweeps, not one of each")
    lines, same = diff_sweeps(a, b) if is_sweep(a) else diff_runs(a, b)
    print("\n".join(lines))
    return 0 if same else 1


def diff_runs(a: Path, b: Path) -> tuple[list[str], bool]:
    """Config keys, data, then metrics of two runs; and whether nothing differs."""
    ma, mb = read_manifest(a), read_manifest(b)
    changes = config_changes(run_config(a, ma), run_config(b, mb))
    lines = [f"A: {a}", f"B: {b}", ""]
    lines += _config_lines(changes)
    data = data_changes(ma, mb)
    lines += ["", "data: " + ("same" if not data else "differs"), *(f"  {d}" for d in data)]
    metrics_a, metrics_b = read_json(a / "metrics.json"), read_json(b / "metrics.json")
    table, metrics_same = metrics_lines(metrics_a, metrics_b)
    lines += ["", *table]
    return lines, not changes and not data and metrics_same


def diff_sweeps(a: Path, b: Path) -> tuple[list[str], bool]:
    """Sweep-level config keys, then the two leaderboards joined on their overrides."""
    changes = config_changes(sweep_config(a), sweep_config(b))
    lines = [f"A: {a}", f"B: {b}", ""]
    lines += _config_lines(changes)
    board_a, board_b = leaderboard(a), leaderboard(b)
    shared = [c for c in board_a.columns if c in board_b.columns and c.startswith("override:")]
    keys = [c for c in shared if board_a[c].nunique() > 1 or board_b[c].nunique() > 1] or shared  # the swept ones
    metrics = [m for m in ("sharpe", "total_return", "max_drawdown") if m in board_a.columns and m in board_b.columns]
    merged = board_a.merge(board_b, on=keys, how="outer", suffixes=(" A", " B"), indicator=True)
    header = [k.removeprefix("override:") for k in keys] + [f"{m} {s}" for m in metrics for s in ("A", "B")]
    rows = []
    same = not changes
    for _, row in merged.iterrows():
        cells = [str(row[k]) for k in keys]
        for m in metrics:
            va, vb = row.get(f"{m} A"), row.get(f"{m} B")
            cells += [_fmt(va), _fmt(vb)]
            same = same and _equal(va, vb)
        rows.append(cells)
    lines += ["", "leaderboards (joined on overrides):", *_table(header, rows)]
    return lines, same


def read_json(path: Path) -> dict[str, Any]:
    """A JSON file's object ({} when absent)."""
    if not path.is_file():
        return {}
    data = json.loads(path.read_text())
    return data if isinstance(data, dict) else {}


def run_config(run_dir: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """The resolved config (secrets masked): the manifest's, else ``.hydra/config.yaml``'s."""
    if isinstance(manifest.get("config"), dict):
        return manifest["config"]
    from qt.evaluation.run_data import read_config

    return read_config(run_dir)


def sweep_config(sweep_dir: Path) -> dict[str, Any]:
    """The sweep's base config and its command-line overrides, from multirun.yaml (secrets masked)."""
    from omegaconf import DictConfig, OmegaConf

    from qt.config.secrets import redacted

    path = sweep_dir / "multirun.yaml"
    if not path.is_file():
        return {}
    raw = OmegaConf.load(path)
    if not isinstance(raw, DictConfig):
        return {}
    task = list(OmegaConf.select(raw, "hydra.overrides.task", default=[]) or [])
    body = {k: v for k, v in OmegaConf.to_container(raw, resolve=False).items() if k != "hydra"}  # type: ignore[union-attr]
    out = redacted(OmegaConf.create(body))
    out["overrides"] = dict(sorted(str(t).partition("=")[::2] for t in task))  # key -> value: diffed per key
    return out


def leaderboard(sweep_dir: Path) -> Any:
    """The sweep's leaderboard as a DataFrame, override columns prefixed ``override:``."""
    import pandas as pd

    from qt.evaluation.leaderboard import collect

    path = sweep_dir / "leaderboard.parquet"
    board = collect(sweep_dir)
    table = pd.read_parquet(path) if path.is_file() else board.table
    return table.rename(columns={c: f"override:{c}" for c in board.override_columns})


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as dotted keys (lists stay values)."""
    if not isinstance(node, dict):
        return {prefix: node}
    out: dict[str, Any] = {}
    for k, v in node.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict) and v:
            out.update(flatten(v, key))
        else:
            out[key] = v
    return out


def config_changes(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(dotted key, value in A, value in B) for every key whose value differs, sorted."""
    fa, fb = flatten(a), flatten(b)
    return [
        (k, fa.get(k, MISSING), fb.get(k, MISSING))
        for k in sorted(fa.keys() | fb.keys())
        if fa.get(k, MISSING) != fb.get(k, MISSING)
    ]


def data_changes(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """What differs between two manifests' data: each file (by path), else the panel fingerprint."""
    out = []
    files_a, files_b = a.get("data_files") or {}, b.get("data_files") or {}
    for path in sorted(files_a.keys() | files_b.keys()):
        fa, fb = files_a.get(path), files_b.get(path)
        if fa is None or fb is None:
            out.append(f"{path}: {'only in A' if fb is None else 'only in B'}")
        elif fa.get("sha256") != fb.get("sha256"):
            out.append(f"{path}: content changed ({fa.get('size')} -> {fb.get('size')} bytes)")
    if a.get("data_fingerprint") != b.get("data_fingerprint"):
        out.append(f"panel fingerprint {a.get('data_fingerprint')} -> {b.get('data_fingerprint')}")
    return out


def metrics_lines(a: dict[str, Any], b: dict[str, Any]) -> tuple[list[str], bool]:
    """The scalar metrics of two runs side by side with B - A; and whether all are equal."""
    keys = [k for k in sorted(a.keys() | b.keys()) if _scalar(a.get(k)) and _scalar(b.get(k))]
    rows, same = [], True
    for k in keys:
        va, vb = a.get(k), b.get(k)
        delta = vb - va if isinstance(va, (int, float)) and isinstance(vb, (int, float)) else None
        rows.append([k, _fmt(va), _fmt(vb), _fmt(delta) if delta is not None else ""])
        same = same and _equal(va, vb)
    return _table(["metric", "A", "B", "B - A"], rows), same


def _config_lines(changes: list[tuple[str, Any, Any]]) -> list[str]:
    if not changes:
        return ["config: same"]
    return [f"config: {len(changes)} key(s) differ", *(f"  {k}: {_short(va)} -> {_short(vb)}" for k, va, vb in changes)]


def _scalar(v: Any) -> bool:
    return v is None or isinstance(v, (int, float, str, bool))


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    return f"{v:,.4f}" if abs(v) < 1e6 else f"{v:,.0f}"


def _short(v: Any, width: int = 60) -> str:
    text = json.dumps(v) if not isinstance(v, str) else v
    return text if len(text) <= width else text[: width - 3] + "..."


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        pairs = enumerate(zip(cells, widths, strict=True))
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in pairs)

    return [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]
