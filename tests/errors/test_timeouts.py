"""Every network call gives up within its timeout and names host:port, never a secret (a silent server stands in)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from qt.reporting.reporters import EmailReporter, Report, ReporterError, SlackReporter, dispatch
from qt.testing.servers import silent_server
from tests.errors.conftest import assert_one_error

SECRET = "SECRETMARKER-7f3a"


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A local port that accepts connections and never answers (qt.testing.servers)."""
    with silent_server() as port:
        yield port


def test_qt_data_ls_against_a_silent_postgres_gives_up_within_its_timeout(qt, silent_port):
    env = {
        "QT_POSTGRES_DSN": f"postgresql://u:{SECRET}@127.0.0.1:{silent_port}/db",
        "QT_POSTGRES_CONNECT_TIMEOUT": "2",
    }
    started = time.perf_counter()
    out = qt("data", "ls", "--store", "postgres", env=env, timeout=30)
    elapsed = time.perf_counter() - started
    assert_one_error(
        out,
        f"error: PostgreSQL at 127.0.0.1:{silent_port} did not answer within 2 s; is it up and reachable? "
        "(wait longer: QT_POSTGRES_CONNECT_TIMEOUT=SECONDS)",
    )
    assert 2 <= elapsed < 8, elapsed
    assert SECRET not in out.stdout + out.stderr


def test_a_refused_postgres_names_host_port_and_masks_the_password(qt):
    out = qt("data", "ls", "--store", "postgres", env={"QT_POSTGRES_DSN": f"postgresql://u:{SECRET}@127.0.0.1:1/db"})
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.startswith("error: cannot connect to PostgreSQL at 127.0.0.1:1 (postgresql://u:<redacted>@")
    assert SECRET not in out.stdout + out.stderr


@pytest.mark.postgres
def test_postgres_sessions_carry_the_timeouts(postgres):
    from qt.data.storage.postgres_store import PostgresStore

    store = PostgresStore(dsn=postgres, statement_timeout=1.5, connect_timeout=3)
    try:
        assert store._conn.execute("SHOW statement_timeout").fetchone() == ("1500ms",)
        assert store._conn.info.get_parameters()["connect_timeout"] == "3"
        with pytest.raises(Exception, match="statement timeout"):
            store._conn.execute("SELECT pg_sleep(3)")
    finally:
        store.close()
    default = PostgresStore(dsn=postgres)
    try:
        assert default._conn.execute("SHOW statement_timeout").fetchone() == ("1min",)
    finally:
        default.close()


def report(tmp_path: Path) -> Report:
    return Report(title="t", stats=[("sharpe", "1.0")], location=str(tmp_path))


def test_a_silent_webhook_gives_up_and_names_host_port_only(silent_port, tmp_path, caplog):
    slack = SlackReporter(webhook_url=f"http://127.0.0.1:{silent_port}/services/{SECRET}", timeout=1)
    started = time.perf_counter()
    with pytest.raises(ReporterError) as err:
        slack.send(report(tmp_path))
    assert time.perf_counter() - started < 3
    assert str(err.value) == f"webhook at 127.0.0.1:{silent_port}: no answer within 1 s"
    assert dispatch({"slack": slack}, report(tmp_path), timeout=5) == ["slack"]
    assert f"reporter slack failed: webhook at 127.0.0.1:{silent_port}: no answer within 1 s" in caplog.text
    assert SECRET not in caplog.text


def test_a_malformed_webhook_url_is_never_echoed(tmp_path, caplog):
    slack = SlackReporter(webhook_url=f"hooks.slack.com/services/{SECRET}")
    assert dispatch({"slack": slack}, report(tmp_path), timeout=5) == ["slack"]
    assert "the webhook URL is not an http(s) URL (value hidden: it is a secret)" in caplog.text
    assert SECRET not in caplog.text


def test_a_silent_smtp_server_gives_up_and_names_host_port(silent_port, tmp_path):
    mail = EmailReporter(
        host="127.0.0.1", port=silent_port, sender="qt@example.org", recipients=["a@example.org"], timeout=1
    )
    started = time.perf_counter()
    with pytest.raises(ReporterError) as err:
        mail.send(report(tmp_path))
    assert time.perf_counter() - started < 3
    assert str(err.value) == f"SMTP server 127.0.0.1:{silent_port}: no answer within 1 s"
