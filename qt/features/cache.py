"""On-disk cache of computed signal panels, keyed by the node's resolved config hash and the data's fingerprint.

A sweep over portfolio or risk settings then computes each signal once. Any change of
the node's parameters, its inputs, its code or the data changes the key, so a stale panel
can never come back. The log says hit or miss; ``cache=off`` turns it off.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import logging
import os
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from qt.data.panel import BarPanel

log = logging.getLogger("qt")
_ACTIVE: contextvars.ContextVar[SignalCache | None] = contextvars.ContextVar("qt_signal_cache", default=None)
_FINGERPRINTS: dict[int, tuple[weakref.ref[BarPanel], str]] = {}


class CacheSettings(BaseModel):
    """The top-level ``cache`` config: ``enabled`` and the ``dir`` panels are stored in."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    dir: str = "outputs/.signal_cache"


class SignalCache:
    """Panels as ``.npy`` files under ``root``, written atomically, read memory-mapped.

    Examples
    --------
    >>> import tempfile
    >>> c = SignalCache(tempfile.mkdtemp())
    >>> c.put("k", "fp", np.ones((2, 2)))
    >>> c.get("k", "fp", "node").tolist()
    [[1.0, 1.0], [1.0, 1.0]]
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.hits = 0
        self.misses = 0

    def path(self, key: str, fingerprint: str) -> Path:
        """Where the panel of node ``key`` on data ``fingerprint`` lives."""
        digest = hashlib.sha256(f"{key}:{fingerprint}".encode()).hexdigest()
        return self.root / digest[:2] / f"{digest}.npy"

    def get(self, key: str, fingerprint: str, name: str) -> np.ndarray | None:
        """The cached panel, or None; logs hit or miss for node ``name``."""
        path = self.path(key, fingerprint)
        try:
            value = np.load(path, mmap_mode="r")
        except (OSError, ValueError):
            self.misses += 1
            log.info("signal cache miss: %s", name)
            return None
        self.hits += 1
        log.info("signal cache hit: %s", name)
        return value

    def put(self, key: str, fingerprint: str, value: np.ndarray) -> None:
        """Store ``value`` (atomically: a temp file renamed into place)."""
        path = self.path(key, fingerprint)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
        with open(tmp, "wb") as fh:
            np.save(fh, np.ascontiguousarray(value))
        os.replace(tmp, path)

    @staticmethod
    def fingerprint(panel: BarPanel) -> str:
        """The panel's content hash, computed once per panel object."""
        entry = _FINGERPRINTS.get(id(panel))
        if entry is not None and entry[0]() is panel:
            return entry[1]
        value = panel.fingerprint()
        _FINGERPRINTS[id(panel)] = (weakref.ref(panel, lambda _: _FINGERPRINTS.pop(id(panel), None)), value)
        return value


def active_cache() -> SignalCache | None:
    """The cache of the current run, or None when caching is off."""
    return _ACTIVE.get()


@contextlib.contextmanager
def using_cache(cache: SignalCache | None) -> Iterator[SignalCache | None]:
    """Make ``cache`` the active signal cache inside the block."""
    token = _ACTIVE.set(cache)
    try:
        yield cache
    finally:
        _ACTIVE.reset(token)


def cache_from_config(cfg: Any) -> SignalCache | None:
    """The SignalCache the composed config's ``cache`` key asks for (None when off or absent)."""
    from omegaconf import DictConfig, OmegaConf

    from qt.config.problems import from_validation_error
    from qt.errors import ConfigError

    node = OmegaConf.select(cfg, "cache") if isinstance(cfg, DictConfig) else (cfg or {}).get("cache")
    if node is None:
        return None
    raw = OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else node
    if raw in ("off", False):
        return None
    try:
        settings = CacheSettings.model_validate(raw)
    except Exception as exc:
        problems = from_validation_error(exc) if hasattr(exc, "errors") else []
        first = problems[0] if problems else None
        raise ConfigError(first.dotted("cache") if first else "cache", first.message if first else str(exc)) from None
    return SignalCache(settings.dir) if settings.enabled else None
