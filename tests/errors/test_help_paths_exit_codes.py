"""``qt COMMAND --help`` for every subcommand, ``~``/``$VAR`` in paths, and one exit-code convention."""

from __future__ import annotations

import argparse
import importlib
import os
from pathlib import Path

import pytest

from qt.cli import SUBCOMMANDS, fail
from qt.config.paths import expand_path
from qt.errors import EXIT_ERROR, EXIT_INTERNAL, ConfigError
from tests.errors.conftest import SMALL, assert_one_error, result_files


def options_of(name: str) -> list[str]:
    """The long options a subcommand declares (read from its own argparse set-up)."""
    module = importlib.import_module(f"qt.commands.{SUBCOMMANDS[name][0]}")
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    return [s for a in parser._actions for s in a.option_strings if s.startswith("--") and s != "--help"]


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_every_subcommand_has_help_listing_its_options(qt, name):
    out = qt(name, "--help")
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    if SUBCOMMANDS[name][0] is None:  # qt run: Hydra's help, with qt's template
        assert "Usage: qt run" in out.stdout and "== Config groups" in out.stdout
        return
    assert out.stdout.startswith(f"usage: qt {name}")
    for option in options_of(name):
        assert option in out.stdout, (name, option)


@pytest.mark.parametrize(
    "args",
    [
        ("check", "lookahead", "--help"),
        ("check", "lookahead", "strategy=xmom", "--help"),
        ("label", "strategy=xmom", "-h"),
    ],
)
def test_help_after_overrides_prints_help_not_a_lexer_error(qt, args):
    out = qt(*args)
    assert out.returncode == 0 and "LexerNoViableAltException" not in out.stdout + out.stderr
    assert out.stdout.startswith(f"usage: qt {args[0]}")


def test_an_unknown_option_among_overrides_is_named(qt):
    out = qt("check", "lookahead", "strategy=xmom", "--sampels", "3")
    assert_one_error(
        out, "error: unknown option --sampels; options: --samples, --seed (see --help); overrides are KEY=VALUE"
    )


def test_expand_path(monkeypatch):
    monkeypatch.setenv("QT_TEST_ROOT", "/srv/qt")
    monkeypatch.setenv("HOME", "/home/quant")
    assert expand_path("~/runs/$QT_TEST_ROOT") == Path("/home/quant/runs/srv/qt")
    assert expand_path("${QT_TEST_ROOT}/prices.parquet") == Path("/srv/qt/prices.parquet")
    monkeypatch.delenv("QT_TEST_UNSET", raising=False)
    with pytest.raises(ConfigError, match=r"^data.path: \$QT_TEST_UNSET in the path '\$QT_TEST_UNSET/x' is not set"):
        expand_path("$QT_TEST_UNSET/x", "data.path")


def test_run_dir_and_data_path_expand_home_and_variables(qt, tmp_path):
    home = tmp_path / "home"
    (home / "data").mkdir(parents=True)
    frame = "date,symbol,close\n2020-01-02,A,10\n2020-01-02,B,20\n2020-01-03,A,11\n2020-01-03,B,21\n"
    (home / "data" / "px.csv").write_text(frame)
    env = {"HOME": str(home), "QT_TEST_RUNS": str(tmp_path / "runs")}
    out = qt(
        "run",
        "data=csv",
        "data.path=~/data/px.csv",
        "strategy=equal_weight",
        "hydra.run.dir=$QT_TEST_RUNS/one",
        env=env,
    )
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "runs" / "one" / "metrics.json").is_file()
    assert not (tmp_path / "~").exists() and not (tmp_path / "$QT_TEST_RUNS").exists()
    unset = qt("run", *SMALL, "hydra.run.dir=$QT_TEST_NOT_SET/x")
    assert_one_error(
        unset,
        "ERROR: hydra.run.dir: $QT_TEST_NOT_SET in the path '$QT_TEST_NOT_SET/x' is not set in the environment; export it",
    )


def test_validate_exits_1_on_a_problem_and_0_when_fine(qt, tmp_path):
    (tmp_path / "bad.yaml").write_text("_target_: pipeline\nsignals: {}\ncombine: nope\n")
    assert qt("validate", "xmom").returncode == 0
    out = qt("validate", "bad.yaml")
    assert out.returncode == 1 and out.stdout.startswith("bad.yaml: ") and "Traceback" not in out.stderr


def test_usage_errors_exit_2(qt):
    assert qt("validate").returncode == 2
    assert qt("check", "nothing").returncode == 2


def test_a_sweep_in_which_every_run_failed_exits_2(qt, tmp_path):
    out = qt("run", "-m", *SMALL, "capital=-1,-2", "hydra.sweep.dir=sweep")
    assert out.returncode == 2
    last = out.stderr.strip().splitlines()[-1]
    assert last == (
        "ERROR: all 2 runs of the sweep failed (error.json in each run of sweep); "
        "the first: capital: Input should be greater than 0, got -1"
    ), out.stderr
    assert "Traceback" not in out.stderr
    assert result_files(tmp_path) == []
    ok = qt("run", "-m", *SMALL, "capital=-1,1000", "hydra.sweep.dir=half", "report.tearsheet=false")
    assert ok.returncode == 0, ok.stderr  # one run failed, one did not: the sweep succeeded


def test_an_unexpected_error_is_one_line_exit_3_and_qt_debug_raises(capsys, monkeypatch):
    monkeypatch.delenv("QT_DEBUG", raising=False)
    assert fail(RuntimeError("boom")) == EXIT_INTERNAL
    assert capsys.readouterr().err == "error: unexpected RuntimeError: boom (a bug? QT_DEBUG=1 shows the traceback)\n"
    assert fail(ConfigError("capital", "must be > 0")) == EXIT_ERROR
    assert capsys.readouterr().err == "error: capital: must be > 0\n"
    monkeypatch.setenv("QT_DEBUG", "1")
    with pytest.raises(RuntimeError, match="boom"):
        fail(RuntimeError("boom"))
    assert os.environ["QT_DEBUG"] == "1"


def test_a_sweep_over_an_unknown_option_fails_before_any_run(qt, tmp_path):
    out = qt("run", "-m", *SMALL, "portfolio=equal,meanvr")
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("ERROR: portfolio: no option 'meanvr'; choose one of: meanvar, ")
    assert_one_error(out, last)
    assert not (tmp_path / "outputs").exists()
