"""``hydra.launcher.address``: checked for form, then asked to answer, before Ray is started.

``ray.init(address=...)`` against a port where nothing listens, or one that accepts and never
answers, retries for minutes and prints only Ray's C++ warnings. Both Ray's cluster (GCS) and
Ray Client (``ray://``) speak gRPC, so one HTTP/2 greeting answered within the timeout tells a
Ray-shaped server from nothing; anything else is one line naming the setting.
(No ``from __future__ import annotations``: Hydra imports plugin modules outside ``sys.modules``.)
"""

import re
import socket
import time

from qt.config.secrets import mask_dsn
from qt.errors import ConfigError

KEY = "hydra.launcher.address"
FORMS = (
    "HOST:PORT (a cluster's GCS, e.g. 127.0.0.1:6379), ray://HOST:PORT (Ray Client, e.g. ray://127.0.0.1:10001) or auto"
)
_ADDRESS = re.compile(
    r"(?P<scheme>ray://)?(?:[^@/\s]+@)?(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(?P<port>\d{1,5})/?"
)
# HTTP/2 client preface and an empty SETTINGS frame: a gRPC server answers with its own SETTINGS frame
_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
_SETTINGS = 4


def parse_address(address: str) -> tuple[str, int] | None:
    """``(host, port)`` of a ``HOST:PORT`` or ``ray://HOST:PORT`` address; None for ``auto``; ConfigError else.

    Examples
    --------
    >>> parse_address("ray://127.0.0.1:10001")
    ('127.0.0.1', 10001)
    >>> parse_address("auto") is None
    True
    """
    text = address.strip()
    if text == "auto":
        return None
    match = _ADDRESS.fullmatch(text)
    port = int(match["port"]) if match else 0
    if match is None or not 1 <= port <= 65535:
        raise ConfigError(KEY, f"{mask_dsn(text)!r} is not a Ray address; write {FORMS}, or null for a local Ray")
    return match["host"].strip("[]"), port


def _auto() -> tuple[str, int] | None:
    """The cluster ``auto`` finds on this machine ($RAY_ADDRESS or the latest ``ray start``); ConfigError if none."""
    try:
        from ray._private.services import canonicalize_bootstrap_address
    except ImportError:  # a Ray without it: let ray.init look
        return None
    try:
        found = canonicalize_bootstrap_address("auto")
    except ConnectionError:
        raise ConfigError(
            KEY,
            "auto found no running Ray cluster on this machine: start one (ray start --head), give its "
            "HOST:PORT, or null for a local Ray",
        ) from None
    return parse_address(found) if found else None


def check_answers(address: str, timeout_s: float) -> None:
    """Raise ConfigError naming ``address`` unless a gRPC server there answers within ``timeout_s`` seconds."""
    where = parse_address(address) or _auto()
    if where is None:
        return
    host, port = where
    shown = f"{host}:{port}"
    fix = f"start the cluster there (ray start --head --port={port}) or fix {KEY} (null starts a local Ray)"
    deadline = time.monotonic() + timeout_s
    try:
        with socket.create_connection(where, timeout=timeout_s) as sock:
            sock.sendall(_PREFACE)
            head = b""
            while len(head) < 9:
                sock.settimeout(max(deadline - time.monotonic(), 0.01))
                chunk = sock.recv(9 - len(head))
                if not chunk:
                    break
                head += chunk
    except ConnectionRefusedError:
        raise ConfigError(KEY, f"nothing listens at {shown} (connection refused): {fix}") from None
    except TimeoutError:
        raise ConfigError(
            KEY, f"no Ray cluster answered at {shown} within {timeout_s:g} s (hydra.launcher.connect_timeout_s): {fix}"
        ) from None
    except OSError as exc:
        raise ConfigError(KEY, f"cannot reach {shown} ({exc.strerror or exc}): {fix}") from None
    if len(head) < 9 or head[3] != _SETTINGS:
        raise ConfigError(KEY, f"the server at {shown} is not a Ray cluster (it does not speak gRPC): {fix}")
