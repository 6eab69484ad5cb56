"""Report settings validation, secret redaction, and the progress display (silent when not a terminal)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from qt.config.secrets import redacted
from qt.errors import ConfigError
from qt.reporting.progress import STEPS, SweepProgress, bar_progress, phase
from qt.reporting.settings import ReportSettings, build_reporters

REPO = Path(__file__).resolve().parents[2]
SMALL = ("data=synthetic", "data.n_assets=25", "data.n_days=400", "strategy.params.lookback=63")


def test_report_settings_errors_name_the_key():
    with pytest.raises(ConfigError, match=r"report\.top_n: Input should be greater than or equal to 0, got -1"):
        ReportSettings.from_config(OmegaConf.create({"report": {"top_n": -1}}))
    with pytest.raises(ConfigError, match=r"report\.tearshet"):
        ReportSettings.from_config(OmegaConf.create({"report": {"tearshet": False}}))
    assert ReportSettings.from_config(OmegaConf.create({})).tearsheet is True


def test_reporters_are_built_from_config_with_env_secrets(monkeypatch):
    monkeypatch.setenv("QT_TEST_HOOK", "http://127.0.0.1:9/hook")
    cfg = OmegaConf.create(
        {
            "report": {
                "reporters": {
                    "slack": {
                        "_target_": "qt.reporting.reporters.SlackReporter",
                        "webhook_url": "${oc.env:QT_TEST_HOOK,null}",
                    },
                    "off": None,
                }
            }
        }
    )
    built = build_reporters(cfg)
    assert list(built) == ["slack"] and built["slack"].webhook_url.get_secret_value() == "http://127.0.0.1:9/hook"
    cfg.report.reporters.slack.webhook_url = "http://literal"
    with pytest.raises(
        ConfigError, match=r"report\.reporters\.slack\.webhook_url: secrets are read from the environment"
    ):
        build_reporters(cfg)
    cfg.report.reporters.slack.webhook_url = "${oc.env:QT_TEST_HOOK}"
    cfg.report.reporters.slack.webhok = 1
    with pytest.raises(
        ConfigError, match=r"report\.reporters\.slack\.webhok: unknown key \(did you mean 'webhook_url'\?\)"
    ):
        build_reporters(cfg)


def test_redaction_keeps_env_values_and_secret_keys_out(monkeypatch):
    monkeypatch.setenv("QT_TEST_PW", "s3cret-value")
    cfg = OmegaConf.create({"a": {"password": "${oc.env:QT_TEST_PW}", "token": "plain-token", "n": 3}, "b": "${a.n}"})
    out = redacted(cfg)
    assert out == {"a": {"password": "<env:QT_TEST_PW>", "token": "<redacted>", "n": 3}, "b": 3}
    assert "s3cret-value" not in str(out)


def test_progress_is_silent_when_not_a_terminal(capsys):
    with phase("backtest"):
        pass
    bar = SweepProgress()
    bar.start(3)
    bar.advance()
    bar.stop()
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_bar_progress_shows_percent_bars_and_time_left_on_a_terminal():
    from io import StringIO

    from rich.console import Console

    out = StringIO()
    with bar_progress(console=Console(force_terminal=True, file=out, width=140)) as progress:
        assert progress is not None
        for done in range(1, 1001):
            progress(done, 1000)
            if done == 500:
                time.sleep(0.25)  # let the bar refresh half-way
    text = out.getvalue()
    assert "backtest" in text and "50%" in text and "/1000" in text and "left" in text


def test_bar_progress_updates_rich_at_most_steps_times():
    class Bar:
        updates = 0

        def update(self, task, **kw):
            Bar.updates += "completed" in kw

    from qt.reporting.progress import _Throttled

    callback = _Throttled(Bar(), 0)
    for done in range(1, 100_001):
        callback(done, 100_000)
    assert Bar.updates == STEPS  # one redraw per 500 bars of 100,000, not one per bar


def test_bar_progress_is_silent_and_costs_nothing_when_not_a_terminal(capsys):
    from io import StringIO

    from rich.console import Console

    out = StringIO()
    with bar_progress(console=Console(file=out)) as progress:  # a file, not a terminal
        assert progress is None  # the engine skips the call entirely
    with bar_progress(enabled=False) as progress:
        assert progress is None
    assert out.getvalue() == ""
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


@pytest.mark.slow
def test_qt_run_shows_no_progress_when_piped(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "qt", "run", *SMALL, f"hydra.run.dir={tmp_path}"],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stderr == "" and "\x1b[?25l" not in out.stdout  # no spinner, no cursor hiding


def run_in_terminal(*args: str) -> tuple[int, str]:
    """Run `qt ARGS` with stdout and stderr on a pseudo-terminal; return its exit code and output."""
    main, child = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "qt", *args], cwd=REPO, stdin=child, stdout=child, stderr=child, env=env, close_fds=True
    )
    os.close(child)
    chunks, deadline = [], time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            data = os.read(main, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=30)
    os.close(main)
    return proc.returncode, b"".join(chunks).decode(errors="replace")


@pytest.mark.slow
def test_qt_run_shows_a_spinner_on_a_terminal(tmp_path):
    code, text = run_in_terminal("run", *SMALL, f"hydra.run.dir={tmp_path}")
    assert code == 0, text
    assert "backtest" in text and "0:00:0" in text  # the spinner's label and elapsed time


@pytest.mark.slow
def test_a_sweep_shows_a_bar_over_its_runs_on_a_terminal(tmp_path):
    code, text = run_in_terminal(
        "run", "-m", *SMALL[:3], "strategy.params.lookback=42,63", f"hydra.sweep.dir={tmp_path}"
    )
    assert code == 0, text
    assert "sweep" in text and "2/2" in text and "leaderboard - 2 runs" in text


def test_a_live_bar_shows_its_rate_and_a_real_time_feed_counts_without_a_total():
    from io import StringIO

    from omegaconf import OmegaConf
    from rich.console import Console

    from qt.config.spec import RunSpec

    assert (
        RunSpec.parse(OmegaConf.create({"mode": "live", "broker": {}}), choices={"broker": "ib"}).description
        == "live (ib)"
    )
    assert RunSpec.parse(OmegaConf.create({"mode": "backtest"}), choices={}).description == "backtest"
    out = StringIO()
    with bar_progress("live (paper)", console=Console(force_terminal=True, file=out, width=160)) as progress:
        for done in range(1, 41):
            progress(done, 40)
            time.sleep(0.01)
    text = out.getvalue()
    assert "live (paper)" in text and "/40" in text and "bars/s" in text and "left" in text
    out = StringIO()
    with bar_progress("live (ib)", console=Console(force_terminal=True, file=out, width=160)) as progress:
        for done in range(1, 31):
            progress(done, None)  # IB: bars as they come, no total
            time.sleep(0.01)
    text = out.getvalue()
    assert "30/?" in text and "bars/s" in text
