"""The pipeline strategy: xmom as a spec equals the class exactly; selection, weighting, universe and combine by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from qt.backtest.engine import BacktestEngine
from qt.config.instantiate import build
from qt.config.paths import conf_dir
from qt.context import DecisionContext
from qt.data.panel import BarPanel
from qt.data.sources.synthetic import SyntheticData
from qt.engine.components import build_components
from qt.enums import Field
from qt.errors import ConfigError, MissingFieldError
from qt.execution.simulator import ExecutionSimulator
from qt.portfolio.optimizers import EqualWeight
from qt.rebalancing import Calendar
from qt.risk.sizing import Sizer
from qt.strategies.pipeline import PipelineStrategy
from qt.strategies.registry import STRATEGIES
from qt.strategies.xmom_crosssec import CrossSectionalMomentum
from qt.testing.panels import daily_panel

REPO = Path(__file__).resolve().parents[2]


def compose_strategy(overrides):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    return build_components(cfg).strategy


def backtest(strategy, panel):
    engine = BacktestEngine(
        strategy=strategy, portfolio=EqualWeight(), sizer=Sizer(), execution=ExecutionSimulator(), capital=1e6
    )
    return engine.run(panel, strategy.scores(panel))


@pytest.mark.parametrize(
    "overrides",
    [
        [],
        [
            "strategy.params.lookback=63",
            "strategy.params.skip=5",
            "strategy.params.quantile=0.3",
            "strategy.params.long_short=true",
        ],
        ["strategy.params.frequency=weekly", "strategy.params.lookback=126"],
    ],
)
def test_xmom_spec_equals_the_class_weights_and_nav(overrides):
    spec = compose_strategy(["strategy=xmom", *overrides])
    assert isinstance(spec, PipelineStrategy)
    mom = spec.signals.nodes["mom"]
    cls = CrossSectionalMomentum(
        lookback=mom.lookback,
        skip=mom.skip,
        quantile=spec.select.quantile,
        long_short=spec.select.long_short,
        rebalance=spec.rebalance,
    )
    panel = SyntheticData(n_assets=40, n_days=900, seed=11, staggered=True).load()
    np.testing.assert_array_equal(spec.scores(panel), cls.scores(panel))
    a, b = backtest(spec, panel), backtest(cls, panel)
    assert len(a.decisions) == len(b.decisions) > 0
    for da, db in zip(a.decisions, b.decisions, strict=True):
        np.testing.assert_array_equal(da.target, db.target)
    np.testing.assert_array_equal(a.nav, b.nav)
    assert a.n_trades == b.n_trades


def test_xmom_cli_run_is_byte_identical_to_the_class(tmp_path, qt_cli):
    folder = tmp_path / "specs"
    folder.mkdir()
    (folder / "xmom_class.yaml").write_text(
        "params: {lookback: 252, skip: 21, quantile: 0.2, long_short: false, frequency: monthly}\n"
        "_target_: qt.strategies.xmom_crosssec.CrossSectionalMomentum\n"
        "lookback: ${strategy.params.lookback}\nskip: ${strategy.params.skip}\nquantile: ${strategy.params.quantile}\n"
        "long_short: ${strategy.params.long_short}\n"
        "rebalance: {_target_: qt.rebalancing.Calendar, frequency: '${strategy.params.frequency}'}\n"
    )
    runs = {}
    for name in ("xmom", "xmom_class"):
        out = tmp_path / name
        result = qt_cli(
            "run",
            f"strategy={name}",
            "cache=off",
            "report.tearsheet=false",
            f"hydra.run.dir={out}",
            env={"QT_STRATEGIES": str(folder)},
        )
        assert result.returncode == 0, result.stderr
        runs[name] = out
    for file in ("equity.parquet", "weights.parquet", "fills.parquet", "orders.parquet"):
        assert (runs["xmom"] / file).read_bytes() == (runs["xmom_class"] / file).read_bytes(), file


def ctx_for(panel, t):
    return DecisionContext(t, panel.timestamps[t], 1.0, np.zeros(panel.n_assets), panel)


def spec(**kw):
    base = {
        "signals": {"r": {"signal": "returns", "horizon": 1}},
        "combine": "r",
        "rebalance": Calendar(frequency="daily"),
    }
    return PipelineStrategy(**{**base, **kw})


PANEL = daily_panel([[10.0, 10.0, 10.0, 10.0], [11.0, 9.0, 10.5, 10.2], [12.1, 8.1, 10.5, 10.0]])
# returns at t2: A +10%, B -10%, C 0%, D -1.96%


@pytest.mark.parametrize(
    ("select", "weight", "expected"),
    [
        ({"rule": "top_k", "k": 2}, {"scheme": "equal"}, [0.5, 0, 0.5, 0]),
        ({"rule": "top_k", "k": 1, "long_short": True}, {"scheme": "equal"}, [1, -1, 0, 0]),
        ({"rule": "top_quantile", "quantile": 0.5, "long_short": True}, {"scheme": "equal"}, [0.5, -0.5, 0.5, -0.5]),
        ({"rule": "threshold", "long_above": 0.0, "short_below": -0.05}, {"scheme": "equal"}, [1, -1, 0, 0]),
        (
            {"rule": "top_k", "k": 2, "long_short": True},
            {"scheme": "score"},
            [1, -0.1 / (0.1 + 0.2 / 10.2), 0, -(0.2 / 10.2) / (0.1 + 0.2 / 10.2)],
        ),
    ],
)
def test_selection_and_weighting_by_hand(select, weight, expected):
    s = spec(select=select, weight=weight)
    scores = s.scores(PANEL)
    target = s.target(ctx_for(PANEL, 2), scores[2])
    np.testing.assert_allclose(target.weights, expected, atol=1e-12)


def test_inverse_vol_weights_by_hand():
    close = np.array([[10.0, 10.0, 10.0], [11.0, 10.1, 10.0], [10.0, 10.0, 10.2], [11.0, 10.1, 10.1]])
    panel = daily_panel(close)
    s = spec(select={"rule": "top_k", "k": 2}, weight={"scheme": "inverse_vol", "window": 3})
    target = s.target(ctx_for(panel, 3), np.array([3.0, 2.0, 1.0]))
    vols = [np.std(close[1:, j] / close[:-1, j] - 1, ddof=1) for j in (0, 1)]
    inv = 1 / np.array(vols)
    np.testing.assert_allclose(target.weights[:2], inv / inv.sum())
    assert target.weights[2] == 0


def test_universe_filters_by_hand():
    close = np.array([[4.0, 10.0, np.nan], [5.0, 11.0, 20.0], [6.0, 12.0, 21.0]])
    volume = np.array([[1e6, 1.0, np.nan], [1e6, 1.0, 1e6], [1e6, 1.0, 1e6]])
    stamps = (np.datetime64("2024-01-01") + np.arange(3)).astype("datetime64[us]")
    panel = BarPanel(stamps, ("A", "B", "C"), {Field.CLOSE: close, Field.VOLUME: volume})
    base = {"signals": {"p": {"signal": "field"}}, "combine": "p"}
    assert np.isfinite(PipelineStrategy(**base, universe={"min_price": 5.0}).scores(panel)).tolist() == [
        [False, True, False],
        [True, True, True],
        [True, True, True],
    ]
    assert np.isfinite(PipelineStrategy(**base, universe={"min_history": 3}).scores(panel))[2].tolist() == [
        True,
        True,
        False,
    ]
    adv = PipelineStrategy(**base, universe={"min_dollar_volume": 1e6, "dollar_volume_window": 2}).scores(panel)
    assert np.isfinite(adv).tolist() == [[False, False, False], [True, False, False], [True, False, True]]
    assert np.isfinite(PipelineStrategy(**base, universe={"symbols": ["B"]}).scores(panel))[:, 1].all()
    with pytest.raises(ConfigError, match=r"strategy\.universe\.symbols: not in data set 'data': ZZZ"):
        PipelineStrategy(**base, universe={"symbols": ["B", "ZZZ"]}).scores(panel)
    with pytest.raises(MissingFieldError, match="min_dollar_volume needs the 'volume' field"):
        PipelineStrategy(**base, universe={"min_dollar_volume": 1.0}).scores(daily_panel(close))


def test_weighted_combine_of_zscores():
    s = PipelineStrategy(
        signals={"a": {"signal": "returns", "horizon": 1}, "b": {"signal": "reversal", "lookback": 2}},
        combine={"weights": {"a": 1.0, "b": 0.5}, "transform": "zscore"},
    )
    scores = s.scores(PANEL)
    a = PANEL.close[2] / PANEL.close[1] - 1
    b = -(PANEL.close[2] / PANEL.close[0] - 1)
    z = lambda v: (v - v.mean()) / v.std()  # noqa: E731
    np.testing.assert_allclose(scores[2], z(a) + 0.5 * z(b))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"signals": {"a": {"signal": "returns"}, "b": {"signal": "reversal"}}}, r"combine: name the node to trade"),
        (
            {"signals": {"a": {"signal": "returns"}}, "combine": "aa"},
            r"combine: unknown signal node 'aa'; did you mean 'a'",
        ),
        (
            {"signals": {"y": {"signal": "triple_barrier"}, "x": {"signal": "cs_zscore", "of": "y"}}, "combine": "x"},
            r"depends on label node\(s\) y",
        ),
        (
            {"signals": {"a": {"signal": "returns"}}, "select": {"rule": "top_kk"}},
            r"strategy.select.rule: unknown selection rule 'top_kk'; did you mean 'top_k'",
        ),
    ],
)
def test_spec_level_errors_name_the_key(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        build({"_target_": "pipeline", **kwargs}, "strategy", names=STRATEGIES)


def test_plugin_strategy_by_short_name_and_by_path():
    strategy = compose_strategy(["strategy=my_plugin_strategy"])
    by_path = build(
        {"_target_": "pipeline", "signals": {"b": {"signal": "strategies.my_signal.Breakout", "window": 55}}},
        "strategy",
        names=STRATEGIES,
    )
    panel = SyntheticData(n_assets=5, n_days=200, seed=2).load()
    np.testing.assert_array_equal(strategy.scores(panel), by_path.scores(panel))
    close = panel.close
    t = 120
    np.testing.assert_allclose(by_path.scores(panel)[t], close[t] / close[t - 55 : t].max(axis=0) - 1)


@pytest.mark.parametrize(
    "args",
    [
        ["strategy=rsi_reversal"],
        ["strategy=sma_cross", "strategy.params.fast=20", "strategy.params.slow=100"],
        ["strategy=mr_pairs"],
        ["strategy=my_plugin_strategy"],
        ["strategy=low_vol"],
        ["strategy=momentum_lowvol_blend"],
    ],
)
def test_example_specs_run_from_the_cli(args, tmp_path, qt_cli):
    result = qt_cli(
        "run", *args, "report.tearsheet=false", f"cache.dir={tmp_path / 'c'}", f"hydra.run.dir={tmp_path / 'r'}"
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "r" / "equity.parquet").is_file()


def test_sma_cross_params_reach_the_indicators():
    s = compose_strategy(["strategy=sma_cross", "strategy.params.fast=20", "strategy.params.slow=100"])
    assert s.signals.nodes["fast_ma"].params == {"timeperiod": 20}
    assert s.signals.nodes["slow_ma"].params == {"timeperiod": 100}
