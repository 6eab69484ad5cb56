"""A marker secret planted in every form a user gives one never reaches any file a run or sweep writes, nor the console."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.errors.conftest import SMALL

pytestmark = pytest.mark.slow

MARK = "SECRETMARKER"
PG = ("data=store", "data.store=postgres")


def leaks(folder: Path, *outputs: str) -> list[str]:
    """Every file under ``folder`` (and each console output) holding the marker."""
    found = [str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and MARK.encode() in p.read_bytes()]
    return found + [f"console[{i}]" for i, text in enumerate(outputs) if MARK in text]


def test_no_secret_reaches_disk_or_console(qt, tmp_path):
    cases = [
        # (arguments, environment, expected exit code, what the console must say to prove the path ran)
        (
            (*SMALL, "report=slack", "hydra.run.dir=runs/env_webhook"),
            {"QT_SLACK_WEBHOOK_URL": f"http://127.0.0.1:1/services/{MARK}1"},
            0,
            "reporter slack failed: webhook at 127.0.0.1:1:",
        ),
        (
            (*SMALL, "report=slack", "hydra.run.dir=runs/bad_webhook"),
            {"QT_SLACK_WEBHOOK_URL": f"hooks.slack.com/services/{MARK}2"},
            0,
            "the webhook URL is not an http(s) URL (value hidden: it is a secret)",
        ),
        (
            (*SMALL, "report=email", "hydra.run.dir=runs/smtp"),
            {
                "QT_SMTP_HOST": "127.0.0.1",
                "QT_SMTP_PORT": "1",
                "QT_SMTP_FROM": "q@x.org",
                "QT_SMTP_TO": "a@x.org",
                "QT_SMTP_USER": "u",
                "QT_SMTP_PASSWORD": f"{MARK}3",
            },
            0,
            "reporter email failed: SMTP server 127.0.0.1:1:",
        ),
        (
            (
                *SMALL,
                "report=slack",
                f"report.reporters.slack.webhook_url=https://hooks.slack.com/services/{MARK}4",
                "hydra.run.dir=runs/cli_webhook",
            ),
            {},
            2,
            "report.reporters.slack.webhook_url: secrets are read from the environment only",
        ),
        (
            (*PG, f"data.dsn=postgresql://u:{MARK}5@127.0.0.1:1/db", "hydra.run.dir=runs/cli_dsn"),
            {},
            2,
            "cannot connect to PostgreSQL at 127.0.0.1:1",
        ),
        (
            (*PG, "hydra.run.dir=runs/env_dsn"),
            {"QT_POSTGRES_DSN": f"postgresql://u:{MARK}6@127.0.0.1:1/db"},
            2,
            "cannot connect to PostgreSQL at 127.0.0.1:1",
        ),
        (
            ("-m", *SMALL, "strategy.params.lookback=42,63", "report=slack", "hydra.sweep.dir=sweeps/env_webhook"),
            {"QT_SLACK_WEBHOOK_URL": f"hooks.slack.com/services/{MARK}7"},
            0,
            "leaderboard",
        ),
        (
            (
                "-m",
                *SMALL,
                "strategy.params.lookback=42,63",
                "report=slack",
                f"report.reporters.slack.webhook_url=https://hooks.slack.com/services/{MARK}8",
                "hydra.sweep.dir=sweeps/cli_webhook",
            ),
            {},
            2,
            "all 2 runs of the sweep failed",
        ),
        (
            (
                "-m",
                *PG,
                f"data.dsn=postgresql://u:{MARK}9@127.0.0.1:1/db",
                "seed=1,2",
                "hydra.sweep.dir=sweeps/cli_dsn",
            ),
            {},
            2,
            "all 2 runs of the sweep failed",
        ),
    ]
    consoles: list[str] = []
    for args, env, code, proof in cases:
        out = qt("run", *args, env={"QT_SLACK_WEBHOOK_URL": "", **env}, timeout=120)
        assert out.returncode == code, (args, out.stderr)
        assert proof in out.stdout + out.stderr, (args, out.stdout, out.stderr)
        assert "Traceback" not in out.stderr
        consoles += [out.stdout, out.stderr]
    written = {p.name for p in tmp_path.rglob("*") if p.is_file()}
    assert {"run.log", "config.yaml", "hydra.yaml", "overrides.yaml", "multirun.yaml", "error.json"} <= written
    assert {"metrics.json", "tearsheet.html"} <= written  # the successful runs wrote their results
    assert any(name.startswith("leaderboard") for name in written)
    assert leaks(tmp_path, *consoles) == []
