"""Slack and email reporters against local servers that receive and parse the message.

A dead server and a hanging server each leave the run intact: exit 0, every result file
written, a warning logged, no wait past the configured timeout. Secrets never reach
.hydra/, the logs or any output.
"""

from __future__ import annotations

import email
import email.policy
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qt.reporting.reporters import EmailReporter, Report, SlackReporter, dispatch
from qt.results.writer import RESULT_FILES

REPO = Path(__file__).resolve().parents[2]
SMALL = ("data=synthetic", "data.n_assets=25", "data.n_days=400", "strategy.params.lookback=63")
SECRET = "T000-SECRET-b4d5e6f7a8"
PASSWORD = "pw-SECRET-93jd83"


def qt(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    import os

    full = {k: v for k, v in os.environ.items() if not k.startswith(("QT_SLACK", "QT_SMTP"))}
    full.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "qt", *args],
        cwd=REPO,
        env=full,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def report(tmp_path: Path) -> Report:
    sheet = tmp_path / "tearsheet.html"
    sheet.write_text("<html><body><svg></svg>tearsheet</body></html>")
    return Report(
        title="qt backtest - sample",
        stats=[("sharpe", "1.23"), ("cagr", "4.56%")],
        location=str(tmp_path),
        subtitle="final NAV 1,000,000.00",
        attachments=(sheet,),
    )


def assert_intact(run_dir: Path) -> None:
    assert {p.name for p in run_dir.iterdir()} >= {*RESULT_FILES, "tearsheet.html", "performance.json"}
    assert not (run_dir / ".partial").exists()


def assert_no_secret(run_dir: Path, *texts: str, secrets=(SECRET, PASSWORD)) -> None:
    for path in run_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for secret in secrets:
                assert secret.encode() not in data, f"{secret} leaked into {path}"
    for text in texts:
        for secret in secrets:
            assert secret not in text


# -- Slack ----------------------------------------------------------------------------------------
def test_slack_posts_json_the_server_can_parse(webhook, tmp_path):
    SlackReporter(webhook_url=f"{webhook.url}/services/{SECRET}").send(report(tmp_path))
    (got,) = webhook.requests
    assert got["path"] == f"/services/{SECRET}" and got["content_type"] == "application/json"
    body = got["json"]
    assert body["text"].startswith("qt backtest - sample") and "sharpe: 1.23" in body["text"]
    assert body["blocks"][0]["text"]["text"] == "qt backtest - sample"
    assert {"type": "mrkdwn", "text": "*sharpe*\n1.23"} in body["blocks"][2]["fields"]


def test_slack_without_a_url_fails_softly(tmp_path, caplog):
    failed = dispatch({"slack": SlackReporter(webhook_url=None)}, report(tmp_path), timeout=2)
    assert failed == ["slack"]
    assert "QT_SLACK_WEBHOOK_URL" in caplog.text


def test_dispatch_gives_up_on_a_hanging_server_at_its_timeout(hanging_port, tmp_path, caplog):
    slack = SlackReporter(webhook_url=f"http://127.0.0.1:{hanging_port}/{SECRET}", timeout=30)
    start = time.monotonic()
    failed = dispatch({"slack": slack}, report(tmp_path), timeout=0.5)
    assert time.monotonic() - start < 2.0
    assert failed == ["slack"] and "no answer within 0.5 s" in caplog.text
    assert SECRET not in caplog.text


def test_dispatch_logs_a_dead_server_without_the_url(dead_port, tmp_path, caplog):
    slack = SlackReporter(webhook_url=f"http://127.0.0.1:{dead_port}/{SECRET}")
    assert dispatch({"slack": slack}, report(tmp_path), timeout=5) == ["slack"]
    assert "reporter slack failed" in caplog.text and SECRET not in caplog.text


def test_the_secret_is_not_in_the_reporters_repr():
    slack = SlackReporter(webhook_url=f"http://127.0.0.1/{SECRET}")
    mail = EmailReporter(host="h", sender="a@b", recipients="x@y, z@w", password=PASSWORD)
    assert SECRET not in repr(slack) and PASSWORD not in repr(mail)
    assert mail.recipients == ["x@y", "z@w"]


@pytest.mark.slow
def test_qt_run_report_slack_end_to_end(webhook, tmp_path):
    env = {"QT_SLACK_WEBHOOK_URL": f"{webhook.url}/services/{SECRET}"}
    out = qt("run", *SMALL, "report=slack", f"hydra.run.dir={tmp_path}", env=env)
    assert out.returncode == 0, out.stderr
    (got,) = webhook.requests
    assert got["json"]["text"].startswith("qt backtest - synthetic")
    assert "sharpe" in got["json"]["text"]
    assert_intact(tmp_path)
    assert_no_secret(tmp_path, out.stdout, out.stderr)
    assert "${oc.env:QT_SLACK_WEBHOOK_URL,null}" in (tmp_path / ".hydra" / "config.yaml").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("server", ["dead", "hanging"])
def test_slack_dead_or_hanging_server_leaves_the_run_intact(server, dead_port, hanging_port, tmp_path):
    port = dead_port if server == "dead" else hanging_port
    env = {"QT_SLACK_WEBHOOK_URL": f"http://127.0.0.1:{port}/services/{SECRET}"}
    start = time.monotonic()
    out = qt("run", *SMALL, "report=slack", "report.timeout=1", f"hydra.run.dir={tmp_path}", env=env)
    elapsed = time.monotonic() - start
    assert out.returncode == 0, out.stderr
    assert "reporter slack" in out.stderr and "the run is unaffected" in out.stderr
    assert elapsed < 20
    assert_intact(tmp_path)
    assert_no_secret(tmp_path, out.stdout, out.stderr)


@pytest.mark.slow
def test_a_secret_written_into_the_config_is_refused(tmp_path):
    out = qt(
        "run",
        *SMALL,
        "report=slack",
        f"report.reporters.slack.webhook_url=http://x/{SECRET}",
        f"hydra.run.dir={tmp_path}",
    )
    assert out.returncode == 2
    assert "report.reporters.slack.webhook_url: secrets are read from the environment only" in out.stderr
    assert not (tmp_path / "equity.parquet").exists()


@pytest.mark.slow
def test_a_sweep_posts_once_with_the_leaderboard(webhook, tmp_path):
    env = {"QT_SLACK_WEBHOOK_URL": f"{webhook.url}/services/{SECRET}"}
    out = qt(
        "run",
        "-m",
        *SMALL[:3],
        "strategy.params.lookback=42,63",
        "report=slack",
        f"hydra.sweep.dir={tmp_path}",
        env=env,
    )
    assert out.returncode == 0, out.stderr
    (got,) = webhook.requests  # per-run network reports are skipped inside a sweep
    assert got["json"]["text"].startswith("qt sweep - 2 runs, ranked by sharpe")
    assert_no_secret(tmp_path, out.stdout, out.stderr)


# -- email ----------------------------------------------------------------------------------------
def parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def test_email_sends_html_and_the_tearsheet(smtp, tmp_path):
    mail = EmailReporter(
        host="127.0.0.1", port=smtp.port, sender="qt@example.org", recipients=["a@example.org"], starttls=False
    )
    mail.send(report(tmp_path))
    ((sender, rcpts, raw),) = smtp.inbox.messages
    assert sender == "qt@example.org" and rcpts == ["a@example.org"]
    msg = parse(raw)
    assert msg["Subject"] == "qt backtest - sample"
    html = msg.get_body(preferencelist=("html",)).get_content()
    assert "<td>sharpe</td>" in html and "1.23" in html
    (attachment,) = list(msg.iter_attachments())
    assert attachment.get_filename() == "tearsheet.html"
    assert "<svg>" in attachment.get_content()


def test_email_over_starttls_verifies_the_certificate(smtp_tls, tmp_path):
    base = {"host": "127.0.0.1", "port": smtp_tls.port, "sender": "qt@example.org", "recipients": ["a@example.org"]}
    EmailReporter(**base, starttls=True, ca_file=str(smtp_tls.ca_file)).send(report(tmp_path))
    assert len(smtp_tls.inbox.messages) == 1
    # an untrusted certificate is refused, not silently accepted
    failed = dispatch({"email": EmailReporter(**base, starttls=True)}, report(tmp_path), timeout=5)
    assert failed == ["email"] and len(smtp_tls.inbox.messages) == 1


def test_email_logs_in_over_starttls_and_a_wrong_password_fails_softly(smtp_tls, tmp_path, caplog):
    base = {
        "host": "127.0.0.1",
        "port": smtp_tls.port,
        "sender": "qt@example.org",
        "recipients": ["a@example.org"],
        "ca_file": str(smtp_tls.ca_file),
        "username": smtp_tls.user,
    }
    EmailReporter(**base, password=smtp_tls.password).send(report(tmp_path))
    assert smtp_tls.logins == [(smtp_tls.user, smtp_tls.password)] and len(smtp_tls.inbox.messages) == 1
    # refused credentials (aiosmtpd answers them slowly, so this may also end at the timeout): logged, nothing sent
    failed = dispatch({"email": EmailReporter(**base, password="wrong-pw-Z9")}, report(tmp_path), timeout=3)
    assert failed == ["email"] and len(smtp_tls.inbox.messages) == 1
    assert "reporter email" in caplog.text and "wrong-pw-Z9" not in caplog.text
    assert (smtp_tls.user, "wrong-pw-Z9") in smtp_tls.logins


@pytest.mark.slow
def test_qt_run_report_email_end_to_end(smtp, tmp_path):
    env = {
        "QT_SMTP_HOST": "127.0.0.1",
        "QT_SMTP_PORT": str(smtp.port),
        "QT_SMTP_FROM": "qt@example.org",
        "QT_SMTP_TO": "a@example.org,b@example.org",
        "QT_SMTP_STARTTLS": "false",
        "QT_SMTP_PASSWORD": PASSWORD,  # never used without a user, and never written anywhere
    }
    out = qt("run", *SMALL, "report=email", f"hydra.run.dir={tmp_path}", env=env)
    assert out.returncode == 0, out.stderr
    ((_, rcpts, raw),) = smtp.inbox.messages
    assert rcpts == ["a@example.org", "b@example.org"]
    msg = parse(raw)
    assert msg["Subject"].startswith("qt backtest - synthetic")
    (attachment,) = list(msg.iter_attachments())
    assert attachment.get_content() == (tmp_path / "tearsheet.html").read_text()
    assert_intact(tmp_path)
    assert_no_secret(tmp_path, out.stdout, out.stderr)


@pytest.mark.slow
@pytest.mark.parametrize("server", ["dead", "hanging"])
def test_email_dead_or_hanging_server_leaves_the_run_intact(server, dead_port, hanging_port, tmp_path):
    port = dead_port if server == "dead" else hanging_port
    env = {
        "QT_SMTP_HOST": "127.0.0.1",
        "QT_SMTP_PORT": str(port),
        "QT_SMTP_FROM": "q@x.org",
        "QT_SMTP_TO": "a@x.org",
        "QT_SMTP_PASSWORD": PASSWORD,
    }
    start = time.monotonic()
    out = qt("run", *SMALL, "report=email", "report.timeout=1", f"hydra.run.dir={tmp_path}", env=env)
    assert out.returncode == 0, out.stderr
    assert "reporter email" in out.stderr
    assert time.monotonic() - start < 20
    assert_intact(tmp_path)
    assert_no_secret(tmp_path, out.stdout, out.stderr)
