"""Deterministic crash points for tests: ``QT_FAULT=name[@n]`` kills the process at the n-th pass.

Only tests set ``QT_FAULT`` (a comma-separated list, e.g. ``store.after_log_insert@5``); the
process then sends itself SIGKILL at that point, so a crash lands exactly where a test wants it,
without sleeps. The variable is read once, when this module is first imported (set it in the
environment of the process to kill); unset, a fault point costs one comparison.
"""

from __future__ import annotations

import os
import signal

FAULT_ENV = "QT_FAULT"
_ARMED = os.environ.get(FAULT_ENV, "")
_hits: dict[str, int] = {}


def armed(name: str, spec: str | None = None) -> int | None:
    """The pass number at which ``name`` fires (1 for a bare name) under ``spec`` (default ``$QT_FAULT``).

    Examples
    --------
    >>> armed("store.after_log_insert", "router.after_intent,store.after_log_insert@7")
    7
    """
    for item in (os.environ.get(FAULT_ENV, "") if spec is None else spec).split(","):
        point, _, count = item.strip().partition("@")
        if point == name:
            return int(count) if count else 1
    return None


def fault_point(name: str) -> None:
    """Kill this process with SIGKILL when ``QT_FAULT`` arms ``name`` and this is its n-th pass."""
    if not _ARMED:
        return
    target = armed(name, _ARMED)
    if target is None:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] >= target:
        os.kill(os.getpid(), signal.SIGKILL)
