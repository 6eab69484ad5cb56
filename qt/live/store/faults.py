"""Deterministic crash points for tests: ``QT_FAULT=name[@n]`` kills the process at the n-th pass.

Only tests set ``QT_FAULT`` (a comma-separated list, e.g. ``store.after_log_insert@5``); the
process then sends itself SIGKILL at that point, so a crash lands exactly where a test wants it,
without sleeps. Unset, a fault point costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

FAULT_ENV = "QT_FAULT"
_hits: dict[str, int] = {}


def armed(name: str) -> int | None:
    """The pass number at which ``name`` fires (1 for a bare name), or None when it is not armed."""
    for item in os.environ.get(FAULT_ENV, "").split(","):
        point, _, count = item.strip().partition("@")
        if point == name:
            return int(count) if count else 1
    return None


def fault_point(name: str) -> None:
    """Kill this process with SIGKILL when ``QT_FAULT`` arms ``name`` and this is its n-th pass."""
    if FAULT_ENV not in os.environ:
        return
    target = armed(name)
    if target is None:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] >= target:
        os.kill(os.getpid(), signal.SIGKILL)
