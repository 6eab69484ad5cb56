"""A local server that accepts connections and never answers: the stand-in for a hung database or webhook.

Tests of timeouts point a client at it and check that the client gives up within its timeout,
naming host:port.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def silent_server() -> Iterator[int]:
    """A port on 127.0.0.1 whose server accepts every connection and never sends a byte.

    Examples
    --------
    >>> with silent_server() as port:
    ...     with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
    ...         conn.settimeout(0.1)
    ...         try:
    ...             conn.recv(1)
    ...         except TimeoutError:
    ...             print("no answer")
    no answer
    """
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=2)
        for conn in held:
            conn.close()
        server.close()
