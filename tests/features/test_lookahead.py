"""The lookahead check: every built-in signal, every example strategy and a sample of TA-Lib pass; a leaky plugin is caught."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest

from qt.data.sources.synthetic import SyntheticData
from qt.features.graph import SignalGraph, parse_graph
from qt.features.lookahead import check_graph, sample_cutoffs, scramble_after
from qt.features.signals.base import Signal
from qt.features.signals.registry import SIGNALS

REPO = Path(__file__).resolve().parents[2]
PANEL = SyntheticData(n_assets=6, n_days=400, seed=3).load()
CUTOFFS = sample_cutoffs(PANEL.n_bars, 6, np.random.default_rng(0), warmup=50)


class Leaky(Signal):
    """Tomorrow's return: uses shift(-1)."""

    def compute(self, panel, nodes: Mapping[str, np.ndarray]) -> np.ndarray:
        import pandas as pd

        close = pd.DataFrame(panel.close)
        return (close.shift(-1) / close - 1).to_numpy()


class LeakyOnlyLate(Signal):
    """Leaks through a node that never 'fires' (a threshold that stays 0 on the tested dates would hide it from a per-trade check)."""

    def compute(self, panel, nodes: Mapping[str, np.ndarray]) -> np.ndarray:
        out = np.zeros(panel.close.shape)
        out[:-1] = 1e-9 * panel.close[1:]  # tiny, never changes a ranking, still lookahead
        return out


def test_scramble_keeps_the_past_and_changes_the_future():
    t = 200
    scrambled = scramble_after(PANEL, t, np.random.default_rng(1))
    for f, arr in PANEL.fields.items():
        np.testing.assert_array_equal(scrambled.fields[f][: t + 1], arr[: t + 1])
        assert not np.allclose(scrambled.fields[f][t + 1 :], arr[t + 1 :])


def test_leaky_plugin_is_caught_with_node_date_and_symbol():
    graph = SignalGraph(
        {
            "mom": parse_graph({"m": {"signal": "momentum", "lookback": 20, "skip": 5}})[0].nodes["m"],
            "tomorrow": Leaky(),
        }
    )
    leak = check_graph(graph, PANEL, cutoffs=CUTOFFS)
    assert leak is not None and leak.node == "tomorrow"
    t = CUTOFFS[0]
    assert leak.timestamp == PANEL.timestamps[t]  # the last bar before the scrambled future
    assert leak.symbol in PANEL.symbols
    assert "looks ahead" in str(leak)


def test_a_leak_that_never_trades_is_still_caught():
    leak = check_graph(SignalGraph({"quiet": LeakyOnlyLate()}), PANEL, cutoffs=CUTOFFS)
    assert leak is not None and leak.node == "quiet"


def test_labels_are_exempt_by_role():
    graph, problems = parse_graph(
        {"y": {"signal": "triple_barrier", "horizon": 5}, "leak": {"signal": "returns", "role": "label"}}
    )
    assert problems == []
    assert check_graph(graph, PANEL, cutoffs=CUTOFFS) is None


@pytest.mark.parametrize("name", [n for n in SIGNALS.names() if SIGNALS.get(n).role.value == "feature"])
def test_every_builtin_signal_is_causal(name):
    cls = SIGNALS.get(name)
    spec: dict = {"signal": name}
    extra: dict = {"base": {"signal": "returns", "horizon": 3}, "other": {"signal": "volatility", "window": 10}}
    fields = cls.model_fields
    if "of" in fields:
        spec["of"] = "base"
    if "inputs" in fields:
        spec["inputs"] = (
            {"base": 1.0, "other": -1.0} if "float" in str(fields["inputs"].annotation) else ["base", "other"]
        )
    if "a" in fields:
        spec.update(a="base", b="other")
    if "groups" in fields:
        spec["groups"] = {PANEL.symbols[0]: "g1", PANEL.symbols[1]: "g1"}
    graph, problems = parse_graph({"x": spec, **extra})
    assert problems == []
    assert check_graph(graph, PANEL, cutoffs=CUTOFFS) is None


@pytest.mark.parametrize(
    "name", ["RSI", "MACD", "BBANDS", "ADX", "STOCH", "OBV", "KAMA", "SAR", "ATR", "MFI", "CCI", "WILLR"]
)
def test_talib_sample_is_causal(name):
    graph, problems = parse_graph({"x": {"indicator": name}})
    assert problems == []
    assert check_graph(graph, PANEL, cutoffs=CUTOFFS) is None


def example_specs():
    return sorted(p.stem for p in (REPO / "strategies").glob("*.yaml"))


@pytest.mark.parametrize("name", example_specs())
def test_every_example_strategy_passes_qt_check_lookahead(name, qt_cli):
    args = ["check", "lookahead", f"strategy={name}", "--samples", "3"]
    if name == "mr_pairs":
        args += ["data=synthetic", "data.n_assets=8", "data.n_days=700", "strategy.params.formation=120"]
    result = qt_cli(*args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("ok:")


def test_qt_check_lookahead_names_a_leaky_plugin(tmp_path, qt_cli):
    (tmp_path / "leaky_signal.py").write_text(
        "import pandas as pd\n"
        "from qt.features.signals.base import Signal\n"
        "from qt.features.signals.registry import register_signal\n"
        "@register_signal('peek')\n"
        "class Peek(Signal):\n"
        "    def compute(self, panel, nodes):\n"
        "        c = pd.DataFrame(panel.close)\n"
        "        return (c.shift(-1) / c - 1).to_numpy()\n"
    )
    (tmp_path / "peeking.yaml").write_text(
        "_target_: pipeline\nsignals:\n  mom: {signal: momentum, lookback: 60, skip: 5}\n"
        "  peek: {signal: peek}\ncombine: mom\nrebalance: {_target_: qt.rebalancing.Calendar, frequency: monthly}\n"
    )
    result = qt_cli("check", "lookahead", "strategy=peeking", "--samples", "3", env={"QT_STRATEGIES": str(tmp_path)})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "node 'peek' looks ahead" in result.stdout
