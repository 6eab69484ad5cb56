"""Local servers for the reporter tests: a webhook receiver, a hanging server, a dead port, SMTP (aiosmtpd)."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from qt.testing.servers import Received, silent_server, webhook_server


@pytest.fixture
def webhook() -> Iterator[Received]:
    """An HTTP server on 127.0.0.1 that parses JSON POSTs and answers 200 'ok' (like Slack)."""
    with webhook_server() as got:
        yield got


@pytest.fixture
def hanging_port() -> Iterator[int]:
    """A local port that accepts connections and never answers (qt.testing.servers)."""
    with silent_server() as port:
        yield port


@pytest.fixture
def dead_port() -> int:
    """A port with nothing listening (bound, then released)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


class Inbox:
    """An aiosmtpd handler keeping every message's raw bytes."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd calls this hook by name
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 Message accepted for delivery"


@dataclass
class Smtp:
    """A running local SMTP server."""

    port: int
    inbox: Inbox
    ca_file: Path | None = None
    logins: list[tuple[str, str]] = field(default_factory=list)
    user: str = "qt-user"  # the only account smtp_tls accepts
    password: str = "smtp-pw-SECRET-71x"


def _free_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    """aiosmtpd on 127.0.0.1, plain SMTP."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield Smtp(controller.port, inbox)
    controller.stop()


@pytest.fixture
def smtp_tls(tmp_path) -> Iterator[Smtp]:
    """aiosmtpd on 127.0.0.1 that requires STARTTLS, with a self-signed certificate for 127.0.0.1."""
    import ssl

    from aiosmtpd.controller import Controller

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    from aiosmtpd.smtp import AuthResult, LoginPassword

    inbox = Inbox()
    server = Smtp(0, inbox, cert)

    def authenticate(smtp_server, session, envelope, mechanism, auth_data) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = (v.decode() if isinstance(v, bytes) else str(v) for v in auth_data)
        server.logins.append((user, password))
        return AuthResult(success=(user, password) == (server.user, server.password))

    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=_free_port(),
        tls_context=context,
        require_starttls=True,
        authenticator=authenticate,
        auth_require_tls=True,
    )
    controller.start()
    server.port = controller.port
    yield server
    controller.stop()
