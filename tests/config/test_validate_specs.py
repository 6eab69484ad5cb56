"""Validation: a table of broken specs and the exact path (and file:line:col) each error names."""

from __future__ import annotations

from pathlib import Path

import pytest

from qt.config.validate import spec_as_config, validate_strategy
from qt.strategies.registry import STRATEGIES

REPO = Path(__file__).resolve().parents[2]

GOOD = """\
params:
  lookback: 126
_target_: pipeline
signals:
  mom:
    signal: momentum
    lookback: ${strategy.params.lookback}
    skip: 21
  rsi:
    indicator: RSI
    params: {timeperiod: 14}
combine: mom
select: {rule: top_quantile, quantile: 0.2}
rebalance: {_target_: qt.rebalancing.Calendar, frequency: monthly}
"""

BROKEN = [
    # (name, (old, new) edit of GOOD, key named, message fragment, line)
    (
        "unknown key",
        ("    skip: 21\n", "    skipp: 21\n"),
        "strategy.signals.mom.skipp",
        "unknown key; did you mean 'skip'?",
        8,
    ),
    ("unknown top-level key", ("combine: mom\n", "combin: mom\n"), "strategy.combin", "did you mean 'combine'?", 12),
    (
        "wrong type",
        ("    skip: 21\n", "    skip: soon\n"),
        "strategy.signals.mom.skip",
        "must be a valid integer, got 'soon'",
        8,
    ),
    (
        "negative window",
        ("  lookback: 126\n", "  lookback: -5\n"),
        "strategy.signals.mom.lookback",
        "must be > 0, got -5 (the value of strategy.params.lookback)",
        7,
    ),
    (
        "unknown indicator",
        ("    indicator: RSI\n", "    indicator: RSII\n"),
        "strategy.signals.rsi.indicator",
        "did you mean 'RSI'",
        10,
    ),
    (
        "talib param typo",
        ("{timeperiod: 14}", "{timeperod: 14}"),
        "strategy.signals.rsi.params.timeperod",
        "allowed: timeperiod",
        11,
    ),
    (
        "unknown signal",
        ("    signal: momentum\n", "    signal: momentun\n"),
        "strategy.signals.mom.signal",
        "did you mean 'momentum'",
        6,
    ),
    (
        "cycle",
        ("combine: mom\n", "  a: {signal: rank, of: b}\n  b: {signal: cs_zscore, of: a}\ncombine: mom\n"),
        "strategy.signals.a",
        "cycle between signal nodes: a -> b -> a",
        12,
    ),
    (
        "unknown reference",
        ("combine: mom\n", "  z: {signal: rank, of: mon}\ncombine: mom\n"),
        "strategy.signals.z",
        "unknown node 'mon'; did you mean 'mom'?",
        12,
    ),
    (
        "forbidden _target_",
        ("_target_: pipeline\n", "_target_: os.system\n"),
        "strategy._target_",
        "not under an allowed prefix",
        3,
    ),
    (
        "nested forbidden _target_",
        (
            "rebalance: {_target_: qt.rebalancing.Calendar, frequency: monthly}\n",
            "rebalance: {_target_: subprocess.run}\n",
        ),
        "strategy.rebalance._target_",
        "not under an allowed prefix",
        14,
    ),
    ("bad selection", ("quantile: 0.2}", "quantile: 1.5}"), "strategy.select.quantile", "must be <= 1, got 1.5", 13),
    ("unknown combine node", ("combine: mom\n", "combine: mo\n"), "strategy.combine", "unknown signal node 'mo'", 12),
]


def write(tmp_path, text):
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return path


def errors_of(path):
    cfg = spec_as_config(path)
    return validate_strategy(cfg.strategy, source=path, names=STRATEGIES)


def test_the_good_spec_is_valid(tmp_path):
    assert errors_of(write(tmp_path, GOOD)) == []


@pytest.mark.parametrize(("name", "edit", "key", "fragment", "line"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_spec_names_its_path(tmp_path, name, edit, key, fragment, line):
    old, new = edit
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    errors = errors_of(path)
    assert [e.key for e in errors] == [key], errors
    assert fragment in errors[0].message
    assert errors[0].where is not None and errors[0].where.startswith(f"{path}:{line}:")


def test_forbidden_target_is_refused_before_import(tmp_path, monkeypatch):
    import builtins

    seen = []
    real = builtins.__import__

    def spy(name, *args, **kwargs):
        seen.append(name)
        return real(name, *args, **kwargs)

    path = write(tmp_path, GOOD.replace("_target_: pipeline\n", "_target_: evil_pkg.module.Thing\n"))
    monkeypatch.setattr(builtins, "__import__", spy)
    errors = errors_of(path)
    monkeypatch.undo()
    assert errors[0].key == "strategy._target_"
    assert "evil_pkg" not in seen and "evil_pkg.module" not in seen


def test_every_problem_is_reported_at_once(tmp_path):
    text = (
        GOOD.replace("    skip: 21\n", "    skip: -1\n")
        .replace("{timeperiod: 14}", "{timeperod: 14}")
        .replace("combine: mom\n", "combin: mom\n")
    )
    keys = {e.key for e in errors_of(write(tmp_path, text))}
    assert {"strategy.signals.mom.skip", "strategy.signals.rsi.params.timeperod", "strategy.combin"} <= keys


@pytest.mark.parametrize("name", sorted(p.stem for p in (REPO / "strategies").glob("*.yaml")))
def test_every_shipped_spec_is_valid(name):
    path = REPO / "strategies" / f"{name}.yaml"
    assert errors_of(path) == []


def test_qt_validate_cli(tmp_path, qt_cli):
    ok = qt_cli("validate", "strategies/rsi_reversal.yaml", "xmom")
    assert ok.returncode == 0 and ok.stdout.count(": ok") == 2, ok.stdout + ok.stderr
    bad = write(tmp_path, GOOD.replace("  lookback: 126\n", "  lookback: -5\n"))
    result = qt_cli("validate", str(bad))
    assert result.returncode == 1
    assert (
        f"strategy.signals.mom.lookback: must be > 0, got -5 (the value of strategy.params.lookback)  ({bad}:7:15)"
        in result.stdout
    )


def test_qt_run_validates_before_anything_loads(tmp_path, qt_cli):
    folder = tmp_path / "specs"
    folder.mkdir()
    (folder / "broken.yaml").write_text(GOOD.replace("{timeperiod: 14}", "{timeperod: 14}"))
    result = qt_cli("run", "strategy=broken", f"hydra.run.dir={tmp_path / 'r'}", env={"QT_STRATEGIES": str(folder)})
    assert result.returncode == 2
    assert (
        "strategy.signals.rsi.params.timeperod: unknown parameter of RSI; did you mean 'timeperiod'?" in result.stderr
    )
    assert f"{folder / 'broken.yaml'}:11:" in result.stderr
    assert not (tmp_path / "r" / "equity.parquet").exists()


@pytest.mark.parametrize("option", ["disk", "off"])
def test_cache_options_compose(option):
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from qt.config.paths import conf_dir
    from qt.features.cache import SignalCache, cache_from_config

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[f"cache={option}", "+labeling=triple_barrier"])
    cache = cache_from_config(cfg)
    assert isinstance(cache, SignalCache) if option == "disk" else cache is None
    from qt.config.instantiate import build

    labeling = build(cfg.labeling, "labeling")
    assert labeling.horizon == 10 and labeling.profit_take == 2.0


def test_a_spec_without_a_rebalance_rule_is_refused(tmp_path):
    spec = GOOD.replace("rebalance: {_target_: qt.rebalancing.Calendar, frequency: monthly}\n", "")
    errors = errors_of(write(tmp_path, spec))
    assert [e.key for e in errors] == ["strategy.rebalance"]
    assert "missing: say when the strategy trades" in errors[0].message
