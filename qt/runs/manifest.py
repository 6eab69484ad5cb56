"""What a run's manifest.json records so ``qt rerun`` can repeat it and name what changed.

The resolved config (secrets masked), the command-line overrides (secrets masked), the
data files read with their size and SHA-256, package versions, the git commit and
whether the checkout had uncommitted changes, and every seed in the config.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

# distribution -> the module whose presence in sys.modules means the run used it
PACKAGES = {
    "qt": "qt",
    "numpy": "numpy",
    "pandas": "pandas",
    "pyarrow": "pyarrow",
    "pydantic": "pydantic",
    "hydra-core": "hydra",
    "omegaconf": "omegaconf",
    "scipy": "scipy",
    "cvxpy": "cvxpy",
    "clarabel": "clarabel",
    "osqp": "osqp",
    "duckdb": "duckdb",
    "pandera": "pandera",
    "ta-lib": "talib",
    "exchange-calendars": "exchange_calendars",
}
DATA_PATH_KEYS = frozenset({"path", "paths", "file", "files", "data_dir", "root"})
FULL_HASH_BYTES = 256 << 20  # a run hashes this much in full; files beyond: size, mtime, first and last MiB
ROOT = Path(__file__).resolve().parents[2]


def reproducibility(cfg: DictConfig) -> dict[str, Any]:
    """The manifest's fields beyond hashes and timings: config, overrides, data files, versions, git, seeds."""
    from qt.config.secrets import redacted

    config = redacted(cfg)
    return {
        "config": config,
        "overrides": command_line_overrides(),
        "data_files": data_files(config.get("data")),
        "versions": package_versions(),
        "python": sys.version.split()[0],
        **git_changes(),
        "cwd": os.getcwd(),
        "seeds": seeds(config),
    }


def command_line_overrides() -> list[str] | None:
    """The run's overrides as given (``hydra.overrides.task``), secrets masked; None outside a Hydra run."""
    from hydra.core.hydra_config import HydraConfig

    from qt.config.secrets import mask_override

    if not HydraConfig.initialized():
        return None
    return [mask_override(str(o)) for o in HydraConfig.get().overrides.task]


def package_versions() -> dict[str, str | None]:
    """Installed version of each package the run imported that qt's results depend on."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {}
    for pkg, module in PACKAGES.items():
        if module not in sys.modules:
            continue
        if pkg not in _VERSIONS:  # a version is looked up once per process (the loaded code cannot change)
            try:
                _VERSIONS[pkg] = version(pkg)
            except PackageNotFoundError:
                _VERSIONS[pkg] = None
        out[pkg] = _VERSIONS[pkg]
    return out


_VERSIONS: dict[str, str | None] = {}
_GIT: dict[str, dict[str, Any]] = {}  # sweep folder -> git state at the sweep's first run in this process
_SHA: dict[tuple[str, int, int, bool], str] = {}  # (path, size, mtime_ns, full) -> digest


def git_changes() -> dict[str, Any]:
    """``git_dirty``: uncommitted changes to tracked files; ``git_diff``: SHA-256 of that diff (None outside git).

    Inside a sweep it is read once per process (the sweep's runs share one checkout state).
    """
    sweep = _sweep_dir()
    if sweep is not None and sweep in _GIT:
        return dict(_GIT[sweep])
    found = _git_changes()
    if sweep is not None:
        _GIT[sweep] = found
    return dict(found)


def _sweep_dir() -> str | None:
    """The sweep folder of the running multirun job, else None."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized():
        return None
    hydra = HydraConfig.get()
    return str(hydra.sweep.dir) if hydra.mode == RunMode.MULTIRUN else None


def _git_changes() -> dict[str, Any]:
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "diff", "HEAD", "--binary"], capture_output=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return {"git_dirty": None, "git_diff": None}
    if out.returncode != 0:
        return {"git_dirty": None, "git_diff": None}
    dirty = bool(out.stdout.strip())
    return {"git_dirty": dirty, "git_diff": hashlib.sha256(out.stdout).hexdigest() if dirty else None}


def data_files(node: Any) -> dict[str, dict[str, Any]]:
    """Every existing file named under ``data`` (path, paths, data_dir, ...): path -> size and sha256."""
    found: list[Path] = []
    _collect(node, found)
    files: list[Path] = []
    for p in found:
        files.extend(sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p])
    out, budget = {}, FULL_HASH_BYTES
    for f in files:
        size = f.stat().st_size
        out[str(f)] = {"size": size, "sha256": file_sha256(f, full=size <= budget)}
        budget -= size if size <= budget else 0
    return out


def _collect(node: Any, out: list[Path], key: str = "") -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            _collect(v, out, str(k))
    elif isinstance(node, list):
        for v in node:
            _collect(v, out, key)
    elif isinstance(node, str) and key in DATA_PATH_KEYS and node and "<" not in node:
        p = Path(node).expanduser()
        if p.exists():
            out.append(p.resolve())


def file_sha256(path: Path, *, full: bool = True) -> str:
    """SHA-256 of the file's bytes, or (``full=False``) of its size, mtime and first and last MiB."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns, full)
    if key not in _SHA:  # a file read by every run of a sweep is hashed once per process
        _SHA[key] = _file_sha256(path, full=full)
    return _SHA[key]


def _file_sha256(path: Path, *, full: bool) -> str:
    size = path.stat().st_size
    if full or size <= 2 << 20:
        with path.open("rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    h = hashlib.sha256(f"{size}:{path.stat().st_mtime_ns}".encode())
    with path.open("rb") as fh:
        h.update(fh.read(1 << 20))
        fh.seek(-min(1 << 20, size), 2)
        h.update(fh.read())
    return "partial:" + h.hexdigest()


def seeds(config: dict[str, Any]) -> dict[str, Any]:
    """Every key named ``seed`` in the resolved config, by dotted path."""
    out: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                path = f"{prefix}.{k}" if prefix else str(k)
                if k == "seed" and not isinstance(v, (dict, list)):
                    out[path] = v
                walk(v, path)

    walk(config, "")
    return out
