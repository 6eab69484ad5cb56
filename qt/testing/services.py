"""Whether PostgreSQL and Redis are reachable, for tests that need them.

Tests that need a service skip with a reason when it is absent, except under
``CI=true``, where an absent service is a failure.
"""

from __future__ import annotations

import os
import socket

POSTGRES = ("127.0.0.1", 5432)
REDIS = ("127.0.0.1", 6379)


def reachable(address: tuple[str, int], timeout: float = 0.5) -> bool:
    """True when a TCP connection to ``address`` succeeds within ``timeout`` seconds."""
    try:
        with socket.create_connection(address, timeout=timeout):
            return True
    except OSError:
        return False


def require(name: str, address: tuple[str, int]) -> None:
    """Skip the calling test when ``address`` is down; fail instead when CI=true."""
    import pytest

    if reachable(address):
        return
    message = f"{name} is not reachable at {address[0]}:{address[1]}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: services must run)")
    pytest.skip(message)
