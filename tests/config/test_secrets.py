"""Secrets never reach saved configs: .hydra/ and a sweep's multirun.yaml are masked."""

from __future__ import annotations

from qt.config.secrets import mask_dsn, mask_override, redacted

SECRET = "hunter2-xyz"


def test_dsn_passwords_and_secret_keys_are_masked():
    assert mask_dsn(f"postgresql://qt:{SECRET}@db:5432/prices") == "postgresql://qt:<redacted>@db:5432/prices"
    assert mask_dsn(f"host=db password={SECRET} dbname=x") == "host=db password=<redacted> dbname=x"
    assert mask_dsn("postgresql://qt@db/prices") == "postgresql://qt@db/prices"
    assert mask_override(f"report.reporters.email.password={SECRET}") == "report.reporters.email.password=<redacted>"
    assert (
        mask_override("report.reporters.email.password=${oc.env:PW}") == "report.reporters.email.password=${oc.env:PW}"
    )
    assert redacted({"store": {"dsn": f"postgresql://u:{SECRET}@h/d"}}) == {
        "store": {"dsn": "postgresql://u:<redacted>@h/d"}
    }


def test_a_password_on_the_command_line_is_not_saved(qt_cli, tmp_path):
    run_dir = tmp_path / "run"
    out = qt_cli(
        "run",
        "data=synthetic",
        "data.n_assets=5",
        "data.n_days=300",
        "strategy.params.lookback=63",
        f"+hydra.job.env_set.QT_NOTE=postgresql://qt:{SECRET}@127.0.0.1/test",
        f"hydra.run.dir={run_dir}",
    )
    assert out.returncode == 0, out.stderr
    saved = {p.name for p in (run_dir / ".hydra").iterdir()}
    assert saved == {"config.yaml", "hydra.yaml", "overrides.yaml"}
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    assert SECRET not in out.stdout + out.stderr


def test_a_sweep_masks_its_multirun_yaml(qt_cli, tmp_path):
    out = qt_cli(
        "run",
        "-m",
        "data=synthetic",
        "data.n_assets=5",
        "data.n_days=300",
        "strategy.params.lookback=42,63",
        f"+hydra.job.env_set.QT_NOTE=postgresql://qt:{SECRET}@127.0.0.1/test",
        f"hydra.sweep.dir={tmp_path}",
    )
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "multirun.yaml").exists()
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_scrub_masks_env_secrets_secret_assignments_and_dsn_passwords(monkeypatch):
    import logging

    from qt.config.secrets import SecretFilter, mask_dirname, scrub, secret_values

    monkeypatch.setenv("QT_SLACK_WEBHOOK_URL", f"hooks.example/{SECRET}")  # malformed: no scheme
    monkeypatch.setenv("QT_POSTGRES_DSN", "postgresql://qt:pg-pass-42@db:5432/x")
    monkeypatch.setenv("QT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")  # no password: nothing hidden
    values = secret_values()
    assert f"hooks.example/{SECRET}" in values and "pg-pass-42" in values
    assert "redis://127.0.0.1:6379/0" not in values
    assert scrub(f"unknown url type: 'hooks.example/{SECRET}'") == "unknown url type: '<redacted>'"
    assert scrub("connect to db:5432 with pg-pass-42 failed") == "connect to db:5432 with <redacted> failed"
    assert scrub(rf"#0 : report.reporters.slack.webhook_url=https\://h/{SECRET} x=1") == (
        "#0 : report.reporters.slack.webhook_url=<redacted> x=1"
    )
    assert scrub("password=${oc.env:PW}") == "password=${oc.env:PW}"
    assert mask_dirname(f"a=1,report.reporters.email.password={SECRET},b=2") == (
        "a=1,report.reporters.email.password=<redacted>,b=2"
    )
    record = logging.LogRecord("qt", logging.WARNING, __file__, 1, "failed: %s", (f"hooks.example/{SECRET}",), None)
    assert SecretFilter().filter(record) and record.getMessage() == "failed: <redacted>"
