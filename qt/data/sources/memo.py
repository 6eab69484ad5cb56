"""Validated panels kept for reuse: in this process (memo) and on disk (the panel cache).

Both are keyed by the source's settings and the fingerprint of its file(s): path, size,
mtime_ns and a hash of the content (the whole file up to 8 MB, else its first and last
MiB). An edited file changes the key, so a stale panel never comes back. The disk cache
lives under ``<cache.dir>/panels/`` and is off with ``cache=off``; the memo makes a sweep
worker load and validate a data set once, however many runs it executes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import numpy as np

from qt.data.panel import BarPanel
from qt.enums import Field

log = logging.getLogger("qt")

LOADER_VERSION = "1"  # bump when loading or validation changes what a file turns into
WHOLE_FILE_BYTES = 8 << 20
BLOCK_BYTES = 1 << 20
MEMO_SIZE = 4
_MEMO: OrderedDict[str, BarPanel] = OrderedDict()


def file_fingerprint(paths: Iterable[Path]) -> str:
    """A hash of each file's resolved path, size, mtime_ns and content (see the module docstring)."""
    h = hashlib.blake2b(digest_size=16)
    for path in sorted(Path(p).resolve() for p in paths):
        st = path.stat()
        h.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
        with open(path, "rb") as fh:
            if st.st_size <= WHOLE_FILE_BYTES:
                h.update(fh.read())
            else:
                h.update(fh.read(BLOCK_BYTES))
                fh.seek(st.st_size - BLOCK_BYTES)
                h.update(fh.read(BLOCK_BYTES))
    return h.hexdigest()


def files_under(path: Path) -> list[Path]:
    """``path`` itself, or every file below a folder (hidden files included: they may be data)."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file())
    return [path]


def source_key(kind: str, settings: Mapping[str, object], fingerprint: str) -> str:
    """The cache key of a source: its kind, the settings that change the panel, and the data's fingerprint."""
    text = json.dumps([LOADER_VERSION, kind, settings, fingerprint], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def clear() -> None:
    """Forget every panel loaded in this process."""
    _MEMO.clear()


def load_once(key: str, build: Callable[[], BarPanel], *, label: str, cache_dir: str | None) -> BarPanel:
    """The panel of ``key``: from this process's memo, else the disk cache, else ``build()`` (then stored)."""
    panel = _MEMO.get(key)
    if panel is not None:
        _MEMO.move_to_end(key)
        log.info("data %s: already loaded and validated in this process", label)
        return panel
    disk = PanelCache(Path(cache_dir).expanduser() / "panels") if cache_dir else None
    panel = disk.get(key, label) if disk is not None else None
    if panel is None:
        panel = build()
        _freeze(panel)
        if disk is not None:  # written beside the run; the process waits for it before exiting
            threading.Thread(target=disk.put, args=(key, panel), name="qt-panel-cache").start()
    _freeze(panel)
    _MEMO[key] = panel
    while len(_MEMO) > MEMO_SIZE:
        _MEMO.popitem(last=False)
    return panel


def _freeze(panel: BarPanel) -> None:
    """Make the shared arrays read-only, so no run can change the panel another run will get."""
    for values in (panel.timestamps, *panel.fields.values()):
        if values.flags.writeable:
            values.flags.writeable = False


class PanelCache:
    """Validated panels on disk: one folder of ``.npy`` files per key, written atomically.

    Examples
    --------
    >>> import tempfile
    >>> from qt.data.sources.synthetic import SyntheticData
    >>> cache = PanelCache(tempfile.mkdtemp())
    >>> cache.put("k", SyntheticData(n_assets=2, n_days=3).load())
    >>> cache.get("k", "demo").close.shape
    (3, 2)
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def folder(self, key: str) -> Path:
        """Where the panel of ``key`` lives."""
        return self.root / key[:2] / key

    def get(self, key: str, label: str) -> BarPanel | None:
        """The cached panel, or None (logged as a hit or a miss)."""
        folder = self.folder(key)
        try:
            meta = json.loads((folder / "meta.json").read_text())
            # memory-mapped (read-only, shared with the page cache), as plain ndarrays
            fields = {Field(f): np.asarray(np.load(folder / f"{f}.npy", mmap_mode="r")) for f in meta["fields"]}
            timestamps = np.load(folder / "timestamps.npy", allow_pickle=False)
            symbols = tuple(str(s) for s in np.load(folder / "symbols.npy", allow_pickle=False))
            panel = BarPanel(timestamps, symbols, fields, tz=meta["tz"], name=meta["name"])
            if meta.get("fingerprint"):
                panel._cache["fingerprint"] = meta["fingerprint"]  # hashed when stored: runs need not rehash
        except (OSError, ValueError, KeyError):
            log.info("panel cache miss: %s", label)
            return None
        log.info("panel cache hit: %s (parsing and validation skipped)", label)
        return panel

    def put(self, key: str, panel: BarPanel) -> None:
        """Store ``panel``: written into a temporary folder renamed into place."""
        final = self.folder(key)
        tmp = final.with_name(f".{final.name}.{os.getpid()}.partial")
        try:
            tmp.mkdir(parents=True, exist_ok=True)
            np.save(tmp / "timestamps.npy", np.ascontiguousarray(panel.timestamps))
            np.save(tmp / "symbols.npy", np.asarray(panel.symbols, dtype=str))
            for f, values in panel.fields.items():
                np.save(tmp / f"{f.value}.npy", np.ascontiguousarray(values))
            meta = {
                "fields": [f.value for f in panel.fields],
                "tz": panel.tz,
                "name": panel.name,
                "fingerprint": panel.fingerprint(),
            }
            (tmp / "meta.json").write_text(json.dumps(meta))
            os.replace(tmp, final)
        except OSError as exc:  # another process stored it first, or the disk is full: the run goes on
            log.info("panel cache: not stored (%s)", exc)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
