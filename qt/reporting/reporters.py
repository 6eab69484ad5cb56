"""Reporters: where a run's (or a sweep's) summary goes - the console, a Slack webhook, email.

Secrets (the webhook URL, the SMTP password) come only from the environment through
``${oc.env:NAME}``. A reporter that fails - server down, bad URL, timeout - logs one
warning and never fails the run, delays it past its timeout, or touches its outputs.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, SecretStr, field_validator

log = logging.getLogger("qt.reporting")


@dataclass(frozen=True)
class Report:
    """What a reporter sends: a title, labelled statistics, where the results are, files to attach."""

    title: str
    stats: Sequence[tuple[str, str]]
    location: str
    subtitle: str = ""
    attachments: Sequence[Path] = ()
    table: Sequence[Mapping[str, str]] = field(default_factory=tuple)  # sweeps: one row per run

    def text(self) -> str:
        """Plain-text rendering (Slack, email's text part)."""
        lines = [self.title]
        if self.subtitle:
            lines.append(self.subtitle)
        lines += [f"{k}: {v}" for k, v in self.stats]
        if self.table:
            cols = list(self.table[0])
            lines.append(" | ".join(cols))
            lines += [" | ".join(str(row.get(c, "")) for c in cols) for row in self.table]
        lines.append(f"results: {self.location}")
        return "\n".join(lines)

    def html(self) -> str:
        """A small HTML summary (email body)."""
        from html import escape

        rows = "".join(f"<tr><td>{escape(k)}</td><td align='right'>{escape(v)}</td></tr>" for k, v in self.stats)
        table = ""
        if self.table:
            cols = list(self.table[0])
            head = "".join(f"<th>{escape(c)}</th>" for c in cols)
            body = "".join(
                "<tr>" + "".join(f"<td>{escape(str(r.get(c, '')))}</td>" for c in cols) + "</tr>" for r in self.table
            )
            table = f"<table border='1' cellpadding='4'><tr>{head}</tr>{body}</table>"
        sub = f"<p>{escape(self.subtitle)}</p>" if self.subtitle else ""
        return (
            f"<html><body><h2>{escape(self.title)}</h2>{sub}<table cellpadding='3'>{rows}</table>{table}"
            f"<p>Results: <code>{escape(self.location)}</code></p></body></html>"
        )


@runtime_checkable
class Reporter(Protocol):
    """Sends a Report somewhere; ``network`` reporters are skipped per run inside a sweep."""

    network: ClassVar[bool]

    def send(self, report: Report) -> None:
        """Deliver ``report``; raise on failure (the dispatcher logs it)."""
        ...


class ConsoleReporter(BaseModel):
    """Prints the report as a rich table (plain text when stdout is not a terminal)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    network: ClassVar[bool] = False

    def send(self, report: Report) -> None:
        """Print title, statistics and the results' location."""
        from rich.console import Console
        from rich.table import Table

        console = Console()
        table = Table(title=report.title)
        if report.table:
            for col in report.table[0]:
                table.add_column(col, justify="left" if col in ("run", "status", "error", "overrides") else "right")
            for row in report.table:
                table.add_row(*(str(v) for v in row.values()))
        else:
            table.add_column("metric")
            table.add_column("value", justify="right")
            for k, v in report.stats:
                table.add_row(k, v)
        console.print(table)
        if report.subtitle:
            console.print(report.subtitle, soft_wrap=True)
        console.print(f"results: {report.location}", soft_wrap=True)


class SlackReporter(BaseModel):
    """Posts the report to a Slack incoming webhook (JSON ``{"text", "blocks"}``).

    Examples
    --------
    >>> SlackReporter(webhook_url=None).configured
    False
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    network: ClassVar[bool] = True
    webhook_url: SecretStr | None = None
    timeout: PositiveFloat = 5.0

    @property
    def configured(self) -> bool:
        """Whether a webhook URL was found in the environment."""
        return bool(self.webhook_url and self.webhook_url.get_secret_value())

    def send(self, report: Report) -> None:
        """POST the message; raises on a non-2xx answer or a network error."""
        import json
        import urllib.request

        if not self.configured or self.webhook_url is None:
            raise ReporterError("no webhook URL: set QT_SLACK_WEBHOOK_URL in the environment")
        fields = [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in report.stats[:10]]
        blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": report.title[:150]}}]
        if report.subtitle:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": report.subtitle}})
        if fields:
            blocks.append({"type": "section", "fields": fields})
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"results: `{report.location}`"}]})
        body = json.dumps({"text": report.text(), "blocks": blocks}).encode()
        url = self.webhook_url.get_secret_value()
        server = webhook_server(url)  # refuses a malformed URL without echoing it
        request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status = response.status
        except TimeoutError:
            raise ReporterError(f"webhook at {server}: no answer within {self.timeout:g} s") from None
        except OSError as exc:  # URLError, HTTPError, connection refused, DNS
            reason = getattr(exc, "reason", None) or getattr(exc, "code", None) or exc
            if isinstance(reason, TimeoutError):
                raise ReporterError(f"webhook at {server}: no answer within {self.timeout:g} s") from None
            raise ReporterError(f"webhook at {server}: {reason}") from None
        if not 200 <= status < 300:
            raise ReporterError(f"webhook at {server} answered HTTP {status}")


class EmailReporter(BaseModel):
    """Mails an HTML summary with the tearsheet attached, over SMTP (STARTTLS and login optional).

    With ``starttls`` the server's certificate is verified (system CAs, plus ``ca_file`` when given).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    network: ClassVar[bool] = True
    host: str | None = None
    port: int = Field(default=587, gt=0, lt=65536)
    sender: str | None = None
    recipients: list[str] = Field(default_factory=list)
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = True
    ca_file: str | None = None  # extra CA bundle to verify the server's certificate (private mail relays)
    timeout: PositiveFloat = 10.0
    attach_tearsheet: bool = True

    @field_validator("recipients", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        """``a@x, b@y`` (as an environment variable holds it) -> a list; null -> []."""
        if value is None:
            return []
        return [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value

    def send(self, report: Report) -> None:
        """Connect, optionally STARTTLS and log in, send one message."""
        import smtplib
        from email.message import EmailMessage

        if not self.host or not self.sender or not self.recipients:
            raise ReporterError("needs host, sender and recipients: set QT_SMTP_HOST, QT_SMTP_FROM and QT_SMTP_TO")
        msg = EmailMessage()
        msg["Subject"], msg["From"], msg["To"] = report.title, self.sender, ", ".join(self.recipients)
        msg.set_content(report.text())
        msg.add_alternative(report.html(), subtype="html")
        for path in report.attachments if self.attach_tearsheet else ():
            if path.is_file():
                msg.add_attachment(
                    path.read_bytes(), maintype="text", subtype="html", filename=path.name, params={"charset": "utf-8"}
                )
        server = f"{self.host}:{self.port}"
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    import ssl

                    smtp.starttls(context=ssl.create_default_context(cafile=self.ca_file))
                if self.username and self.password:
                    smtp.login(self.username, self.password.get_secret_value())
                smtp.send_message(msg)
        except TimeoutError:
            raise ReporterError(f"SMTP server {server}: no answer within {self.timeout:g} s") from None
        except (OSError, smtplib.SMTPException) as exc:
            if isinstance(exc.__context__, TimeoutError):  # smtplib reports a read timeout as a disconnect
                raise ReporterError(f"SMTP server {server}: no answer within {self.timeout:g} s") from None
            raise ReporterError(f"SMTP server {server}: {type(exc).__name__}: {exc}") from None


class ReporterError(Exception):
    """A reporter could not deliver (logged, never raised to the run)."""


def webhook_server(url: str) -> str:
    """``host:port`` of a webhook URL, for messages (the path holds the secret token and is never shown).

    Examples
    --------
    >>> webhook_server("https://hooks.slack.com/services/T0/B0/xyz")
    'hooks.slack.com:443'
    """
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        parts, port = None, None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ReporterError(
            "the webhook URL is not an http(s) URL (value hidden: it is a secret); check QT_SLACK_WEBHOOK_URL"
        )
    return f"{parts.hostname}:{port or (443 if parts.scheme == 'https' else 80)}"


def dispatch(
    reporters: Mapping[str, Reporter], report: Report, *, timeout: float, network: bool = True, local: bool = True
) -> list[str]:
    """Send ``report`` through every reporter, each in its own thread bounded by ``timeout`` seconds.

    Returns the names of the reporters that failed or timed out; never raises.
    ``network=False`` skips network reporters (inside a sweep, per run); ``local=False`` the console.
    """
    failed: list[str] = []
    threads: list[tuple[str, Reporter, threading.Thread, list[BaseException]]] = []
    for name, reporter in reporters.items():
        if (reporter.network and not network) or (not reporter.network and not local):
            continue
        errors: list[BaseException] = []
        thread = threading.Thread(target=_send, args=(reporter, report, errors), name=f"qt-report-{name}", daemon=True)
        thread.start()
        threads.append((name, reporter, thread, errors))
    deadline = time.monotonic() + timeout
    for name, reporter, thread, errors in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            log.warning("reporter %s: no answer within %.1f s; gave up (the run is unaffected)", name, timeout)
            failed.append(name)
        elif errors:
            log.warning("reporter %s failed: %s (the run is unaffected)", name, _describe(errors[0], reporter))
            failed.append(name)
    return failed


def _send(reporter: Reporter, report: Report, errors: list[BaseException]) -> None:
    try:
        reporter.send(report)
    except BaseException as exc:
        errors.append(exc)


def _describe(exc: BaseException, reporter: Any = None) -> str:
    """The error's type and message, without the reporter's secrets or any URL (which may carry a token)."""
    from qt.config.secrets import scrub, secret_values

    own = [v.get_secret_value() for v in vars(reporter).values() if isinstance(v, SecretStr)] if reporter else []
    text = re.sub(r"https?://\S+", "<url>", scrub(str(exc), secret_values(own)))
    if isinstance(exc, ReporterError):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
