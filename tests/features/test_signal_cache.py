"""Signal cache: a second run is a hit with identical results; a changed data file or parameter is a miss."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from qt.data.sources.synthetic import SyntheticData
from qt.errors import ConfigError
from qt.features.cache import SignalCache, cache_from_config, using_cache
from qt.features.graph import parse_graph
from qt.testing.panels import daily_panel

PANEL = SyntheticData(n_assets=5, n_days=300, seed=1).load()
SPEC = {"mom": {"signal": "momentum", "lookback": 60, "skip": 5}, "z": {"signal": "cs_zscore", "of": "mom"}}


def run(cache, spec=SPEC, panel=PANEL):
    graph, problems = parse_graph(spec)
    assert problems == []
    with using_cache(cache):
        return graph.evaluate(panel)


def test_second_run_is_a_hit_with_identical_values(tmp_path, caplog):
    cache = SignalCache(tmp_path)
    with caplog.at_level(logging.INFO, logger="qt"):
        first = run(cache)
        assert (cache.hits, cache.misses) == (0, 2)
        second = run(cache)
    assert (cache.hits, cache.misses) == (2, 2)
    assert "signal cache miss: mom" in caplog.text and "signal cache hit: z" in caplog.text
    for name in SPEC:
        np.testing.assert_array_equal(first[name], second[name])


def test_changed_parameter_misses_that_node_and_its_dependents(tmp_path):
    cache = SignalCache(tmp_path)
    run(cache)
    changed = {**SPEC, "mom": {"signal": "momentum", "lookback": 61, "skip": 5}}
    out = run(cache, changed)
    assert (cache.hits, cache.misses) == (0, 4)
    graph, _ = parse_graph(changed)
    np.testing.assert_array_equal(out["z"], graph.evaluate(PANEL, use_cache=False)["z"])


def test_changed_data_is_a_miss(tmp_path):
    cache = SignalCache(tmp_path)
    run(cache)
    close = PANEL.close.copy()
    close[-1, 0] *= 1.01
    other = daily_panel(close)
    run(cache, panel=other)
    assert cache.hits == 0


def test_cache_config_off_and_bad_keys(tmp_path):
    assert cache_from_config({"cache": {"enabled": False, "dir": str(tmp_path)}}) is None
    assert cache_from_config({"cache": "off"}) is None
    assert isinstance(cache_from_config({"cache": {"enabled": True, "dir": str(tmp_path)}}), SignalCache)
    with pytest.raises(ConfigError, match=r"^cache\.enabeld: unknown key"):
        cache_from_config({"cache": {"enabeld": True}})


def test_qt_run_hits_on_a_rerun_and_off_disables(tmp_path, qt_cli):
    args = ["run", "strategy=rsi_reversal", "report.tearsheet=false", f"cache.dir={tmp_path / 'c'}"]
    first = qt_cli(*args, f"hydra.run.dir={tmp_path / 'r1'}")
    assert first.returncode == 0, first.stderr
    second = qt_cli(*args, f"hydra.run.dir={tmp_path / 'r2'}")
    assert "signal cache hit: rsi" in (tmp_path / "r2" / "run.log").read_text()
    assert (tmp_path / "r1" / "equity.parquet").read_bytes() == (tmp_path / "r2" / "equity.parquet").read_bytes()
    off = qt_cli(
        "run", "strategy=rsi_reversal", "report.tearsheet=false", "cache=off", f"hydra.run.dir={tmp_path / 'r3'}"
    )
    assert off.returncode == 0, off.stderr
    assert "signal cache" not in (tmp_path / "r3" / "run.log").read_text()
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "r1" / "equity.parquet"), pd.read_parquet(tmp_path / "r3" / "equity.parquet")
    )
    assert second.returncode == 0
