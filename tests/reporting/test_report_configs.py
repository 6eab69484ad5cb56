"""Every option of the `report` config group composes, validates and builds its reporters."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from qt.config.paths import conf_dir
from qt.reporting.reporters import ConsoleReporter, EmailReporter, Reporter, SlackReporter
from qt.reporting.settings import ReportSettings, build_reporters

EXPECTED = {
    "default": {ConsoleReporter},
    "slack": {ConsoleReporter, SlackReporter},
    "email": {ConsoleReporter, EmailReporter},
    "all": {ConsoleReporter, SlackReporter, EmailReporter},
}


def compose_run(overrides: list[str]):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def test_every_report_option_is_tested():
    assert {p.stem for p in (conf_dir() / "report").glob("*.yaml")} == set(EXPECTED)


@pytest.mark.parametrize("option", sorted(EXPECTED))
def test_report_option_composes_and_builds(option, monkeypatch):
    for name in ("QT_SLACK_WEBHOOK_URL", "QT_SMTP_HOST", "QT_SMTP_PORT", "QT_SMTP_TO", "QT_SMTP_STARTTLS"):
        monkeypatch.delenv(name, raising=False)
    cfg = compose_run([f"report={option}"])
    settings = ReportSettings.from_config(cfg)
    assert settings.tearsheet and settings.top_n == 3 and settings.sort_by == "sharpe"
    reporters = build_reporters(cfg)
    assert {type(r) for r in reporters.values()} == EXPECTED[option]
    assert all(isinstance(r, Reporter) for r in reporters.values())
    if "email" in reporters:
        assert reporters["email"].port == 587 and reporters["email"].starttls is True


def test_email_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("QT_SMTP_HOST", "mail.example.org")
    monkeypatch.setenv("QT_SMTP_PORT", "2525")
    monkeypatch.setenv("QT_SMTP_TO", "a@example.org, b@example.org")
    monkeypatch.setenv("QT_SMTP_STARTTLS", "false")
    mail = build_reporters(compose_run(["report=email"]))["email"]
    assert (mail.host, mail.port, mail.recipients, mail.starttls) == (
        "mail.example.org",
        2525,
        ["a@example.org", "b@example.org"],
        False,
    )


def test_the_leaderboard_callback_is_configured():
    assert compose_run([]).benchmark is None
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        full = compose(config_name="config", return_hydra_config=True)
    assert full.hydra.callbacks.leaderboard._target_ == "qt.evaluation.callback.LeaderboardCallback"
