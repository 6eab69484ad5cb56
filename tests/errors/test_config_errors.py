"""Hydra's composition errors in qt's voice: the key, what exists (closest first), exit 2, nothing written."""

from __future__ import annotations

import yaml

from tests.errors.conftest import REPO, SMALL, assert_one_error, result_files

XMOM_KNOBS = yaml.safe_load((REPO / "strategies" / "xmom.yaml").read_text())["params"]


def options(line: str) -> list[str]:
    return line.split("choose one of: ", 1)[1].split(", ")


def test_unknown_group_option_lists_the_options_closest_first(qt, tmp_path):
    out = qt("run", "portfolio=meanvr")
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("ERROR: portfolio: no option 'meanvr'; choose one of: meanvar, ")
    assert_one_error(out, last)
    assert sorted(options(last)) == sorted(p.stem for p in (REPO / "conf" / "portfolio").glob("*.yaml"))
    assert not (tmp_path / "outputs").exists()


def test_unknown_strategy_lists_the_yaml_files_of_the_strategy_folders(qt, tmp_path):
    (tmp_path / "strategies").mkdir()
    (tmp_path / "strategies" / "xmom_mine.yaml").write_text((REPO / "strategies" / "xmom.yaml").read_text())
    out = qt("run", "strategy=xmon")
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("ERROR: strategy: no option 'xmon' (strategies/NAME.yaml in ./strategies,")
    assert options(last)[0] == "xmom"
    assert_one_error(out, last)
    bundled = {p.stem for p in (REPO / "strategies").glob("*.yaml")}
    assert set(options(last)) == bundled | {"xmom_mine"}
    assert not (tmp_path / "outputs").exists()


def test_unknown_key_without_plus_names_the_closest_key_not_the_plus(qt, tmp_path):
    out = qt("run", "strategy.params.lookbak=5")
    last = out.stderr.strip().splitlines()[-1]
    head = "ERROR: strategy.params.lookbak: unknown key; did you mean 'lookback'? (keys under 'strategy.params': "
    assert last.startswith(head + "lookback, ")
    assert_one_error(out, last)
    assert set(last.removeprefix(head).rstrip(")").split(", ")) == set(XMOM_KNOBS)
    top = qt("run", "capitl=5")
    last = top.stderr.strip().splitlines()[-1]
    assert last.startswith("ERROR: capitl: unknown key; did you mean 'capital'? (keys at the top level: capital, ")
    assert_one_error(top, last)
    assert not (tmp_path / "outputs").exists()


def test_a_plus_knob_the_spec_never_reads_is_refused(qt, tmp_path):
    out = qt("run", *SMALL, "+strategy.params.lookbak=5")
    last = out.stderr.strip().splitlines()[-1]
    head = (
        "ERROR: strategy.params.lookbak: no part of the strategy reads this knob "
        "(nothing refers to ${strategy.params.lookbak}); did you mean 'lookback'? (knobs: "
    )
    assert last.startswith(head + "lookback, ")
    assert_one_error(out, last)
    assert set(last.removeprefix(head).rstrip(")").split(", ")) == set(XMOM_KNOBS)
    assert result_files(tmp_path) == []


def test_a_plus_knob_the_spec_reads_is_accepted(qt, tmp_path):
    spec = (REPO / "strategies" / "xmom.yaml").read_text().replace("${strategy.params.skip}", "${strategy.params.gap}")
    assert "${strategy.params.gap}" in spec
    (tmp_path / "strategies").mkdir()
    (tmp_path / "strategies" / "gap.yaml").write_text(spec)
    out = qt("run", *SMALL, "strategy=gap", "+strategy.params.gap=5", "report.tearsheet=false")
    assert out.returncode == 0, out.stderr


def test_a_plus_top_level_key_must_be_a_run_setting(qt, tmp_path):
    out = qt("run", *SMALL, "+capitl=1")
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith(
        "ERROR: capitl: no run setting or config group of that name; did you mean 'capital'? (top-level keys: capital, "
    )
    assert_one_error(out, last)
    assert result_files(tmp_path) == []


def test_a_plus_key_inside_a_component_must_be_a_constructor_argument(qt, tmp_path):
    out = qt("run", *SMALL, "+execution.timng=close")
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("ERROR: execution.timng: ") and "takes no argument 'timng'; did you mean 'timing'?" in last
    assert_one_error(out, last)
    assert result_files(tmp_path) == []


def test_a_plus_key_in_a_plain_group_must_be_one_its_options_declare(qt, tmp_path):
    out = qt("run", *SMALL, "+risk.limts=null")
    last = out.stderr.strip().splitlines()[-1]
    head = "ERROR: risk.limts: no risk setting of that name; did you mean 'limits'? (keys of risk: limits, "
    assert last.startswith(head) and last.endswith(")")
    assert_one_error(out, last)
    declared = set().union(*(yaml.safe_load(p.read_text()).keys() for p in (REPO / "conf" / "risk").glob("*.yaml")))
    assert set(last.removeprefix(head[: -len("limits, ")]).rstrip(")").split(", ")) == declared - {"defaults"}
    assert result_files(tmp_path) == []


def test_plus_on_an_existing_key_says_drop_the_plus(qt, tmp_path):
    out = qt("run", "+capital=5")
    assert_one_error(out, "ERROR: capital: already in the config; drop the '+' to change it (capital=VALUE)")
    assert not (tmp_path / "outputs").exists()


def test_an_override_interpolation_that_does_not_resolve(qt, tmp_path):
    out = qt("run", *SMALL, "capital=${nope}")
    assert_one_error(out, "ERROR: capital: cannot resolve: ${nope} names no key of the config")
    assert "omegaconf" not in out.stderr and "InterpolationKeyError" not in out.stderr
    assert result_files(tmp_path) == []
    env = qt("run", *SMALL, "capital=${oc.env:QT_TEST_UNSET_CAPITAL}")
    last = env.stderr.strip().splitlines()[-1]
    assert last.startswith("ERROR: capital: cannot resolve: the environment variable QT_TEST_UNSET_CAPITAL is not set")
    assert_one_error(env, last)


def test_an_unparsable_override(qt, tmp_path):
    out = qt("run", "capital")
    assert_one_error(
        out,
        "ERROR: cannot read the override 'capital': missing EQUAL at '<EOF>'; write KEY=VALUE, GROUP=OPTION or +KEY=VALUE",
    )


def test_qt_check_speaks_the_same_way(qt, tmp_path):
    out = qt("check", "lookahead", "portfolio=meanvr")
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("error: portfolio: no option 'meanvr'; choose one of: meanvar, ")
    assert_one_error(out, last)
    plus = qt("check", "lookahead", "+strategy.params.lookbak=5")
    assert plus.returncode == 2 and "strategy.params.lookbak: no part of the strategy reads this knob" in plus.stderr


def test_qt_debug_shows_the_traceback(qt):
    out = qt("run", "+capital=5", env={"QT_DEBUG": "1"})
    assert out.returncode != 0 and "Traceback" in out.stderr and "ConfigCompositionException" in out.stderr
