"""Local servers for tests: one that never answers (a hung database or webhook), and a webhook receiver.

Tests of timeouts point a client at the silent one and check that the client gives up within its
timeout, naming host:port; reporter and alert tests read what the receiver got.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


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


@dataclass
class Received:
    """What a local webhook got: each POST's path, content type and parsed JSON body."""

    requests: list[dict] = field(default_factory=list)
    url: str = ""

    def texts(self) -> list[str]:
        """Each request's JSON body as text (to look for a message in it)."""
        return [json.dumps(r["json"]) for r in self.requests]


@contextmanager
def webhook_server() -> Iterator[Received]:
    """An HTTP server on 127.0.0.1 that parses JSON POSTs and answers 200 'ok', as Slack does."""
    got = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.requests.append(
                {"path": self.path, "content_type": self.headers["Content-Type"], "json": json.loads(body)}
            )
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            """Quiet: a test reads ``got``, not the server's log."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    got.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield got
    finally:
        server.shutdown()
        server.server_close()
