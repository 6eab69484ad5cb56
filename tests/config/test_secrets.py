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
