"""One live process per state folder; halts reach the configured reporters (a local webhook receives them)."""

from __future__ import annotations

from live_procs import RUN, LiveProcess, bar_every, bars, qt, wait_for

from qt.testing.servers import webhook_server


def test_a_second_process_on_the_same_state_folder_is_refused(tmp_path):
    state = tmp_path / "state"
    first = LiveProcess(tmp_path, state, bar_every(0.5), name="first")
    try:
        wait_for(state, lambda store: bars(store) >= 1, "the first bar", proc=first, timeout=60)
        second = qt("run", *RUN, f"live.state_dir={state}", f"hydra.run.dir={tmp_path / 'second'}", cwd=tmp_path)
        assert second.returncode == 2, second.stdout + second.stderr
        assert f"another qt process (pid {first.proc.pid}) is running live on {state}" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        assert first.stop() == 0


def test_a_halt_is_sent_to_the_webhook(tmp_path):
    with webhook_server() as received:
        out = qt(
            "run", *RUN, f"live.state_dir={tmp_path / 'state'}", f"hydra.run.dir={tmp_path / 'run'}", "report=slack",
            "risk.post_trade=[{_target_:qt.risk.stops.DrawdownStop,max_drawdown:0.005}]",
            cwd=tmp_path, env={"QT_SLACK_WEBHOOK_URL": received.url + "/hook"}, timeout=120,
        )  # fmt: skip
    assert out.returncode == 0, out.stderr
    alerts = [t for t in received.texts() if "qt live halted: drawdown_stop: drawdown" in t]
    assert len(alerts) == 1, received.texts()
