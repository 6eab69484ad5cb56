"""``${qt.run_id:}``: a short id that tells apart runs started in the same second.

``hydra.run.dir`` and ``hydra.sweep.dir`` end in ``HH-MM-SS-<id>``, so two ``qt run``
processes started at the same moment never share a folder while the name stays
readable (``outputs/2026-11-30/10-00-00-3fa9c2``). The id is cached per config like
Hydra's ``${now:...}``: every place of one run (and every job of one sweep, on any
worker) sees the same value.
"""

from __future__ import annotations

import secrets

from omegaconf import OmegaConf

RESOLVER = "qt.run_id"
ID_HEX_CHARS = 6  # 16.7 M values: two runs in the same second collide with probability 6e-8


def new_run_id() -> str:
    """Six random hex characters (from the OS's CSPRNG, so forked processes never repeat a parent's draw)."""
    return secrets.token_hex(ID_HEX_CHARS // 2)


def register() -> None:
    """Register ``${qt.run_id:}`` (idempotent; must run before Hydra resolves the output directories)."""
    if not OmegaConf.has_resolver(RESOLVER):
        OmegaConf.register_new_resolver(RESOLVER, new_run_id, use_cache=True)
