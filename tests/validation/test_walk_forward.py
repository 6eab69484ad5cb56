"""Walk-forward on synthetic data: the stitched curve is the chosen configurations' runs chained, book carried."""

import json
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from qt.backtest.engine import BacktestEngine
from qt.config.paths import conf_dir
from qt.engine.components import build_components
from qt.runs.walk_forward import run_walk_forward

BASE = [
    "data=synthetic",
    "data.n_assets=8",
    "data.n_days=1100",
    "strategy=xmom",
    "strategy.params.skip=0",
    "portfolio=equal",
    "execution=close",
    "cache=off",
]
LOOKBACKS = [21, 63, 126]
WALK_FORWARD = [
    "validation=walk_forward",
    "validation.train=252d",
    "validation.test=126d",
    "validation.embargo=5d",
    "validation.pbo_partitions=4",
    "validation.grid={strategy.params.lookback:[21,63,126]}",
]


def _compose(*overrides: str):
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return compose("config", overrides=list(overrides))


@pytest.fixture(scope="module")
def walk_forward(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("wf")
    run_walk_forward(_compose(*BASE, *WALK_FORWARD), run_dir)
    return run_dir, json.loads((run_dir / "walk_forward.json").read_text())


@pytest.fixture(scope="module")
def standalone():
    """Each configuration run on its own over the full history: returns per bar and decision bars."""
    out = {}
    for lookback in LOOKBACKS:
        parts = build_components(_compose(*BASE, f"strategy.params.lookback={lookback}"))
        panel = parts.data.load()
        result = BacktestEngine.from_components(parts).run(panel, parts.strategy.scores(panel))
        out[lookback] = (result.returns, [d.t for d in result.decisions], panel.timestamps)
    return out


def test_stitched_curve_is_the_chosen_runs_chained_with_the_book_carried(walk_forward, standalone):
    run_dir, report = walk_forward
    stamps = standalone[LOOKBACKS[0]][2]
    days = pd.DatetimeIndex(stamps).strftime("%Y-%m-%d")
    windows = [
        (days.get_loc(w["test"][0]), days.get_loc(w["test"][1]) + 1, w["params"]["strategy.params.lookback"])
        for w in report["windows"]
    ]
    # decision bars: each window's chosen configuration decides on its own dates inside its window only
    owner_of_decision = {}
    for start, end, lookback in windows:
        for t in standalone[lookback][1]:
            if start <= t < end:
                owner_of_decision[t] = lookback
    first = windows[0][0]
    decided = sorted(owner_of_decision)
    expected = []
    for t in range(first, len(stamps)):
        # execution at the close: bar t's return comes from the book set at the last decision before t,
        # which may belong to the previous window (the book carries); none yet -> cash
        before = [d for d in decided if d < t]
        expected.append(standalone[owner_of_decision[before[-1]]][0][t] if before else 0.0)
    capital = 1_000_000.0
    curve = capital * np.cumprod(1.0 + np.array(expected))
    equity = pd.read_parquet(run_dir / "equity.parquet")
    assert len(equity) == len(stamps) - first
    assert str(equity["timestamp"].iloc[0])[:10] == days[first]
    np.testing.assert_allclose(equity["nav"].to_numpy(), curve, rtol=1e-10)
    weights = pd.read_parquet(run_dir / "weights.parquet")
    decision_days = set(weights["timestamp"].dt.strftime("%Y-%m-%d"))
    assert decision_days <= {days[t] for t in decided}  # no decision outside a test window
    assert len({w[2] for w in windows}) >= 1 and len(windows) == len(report["windows"])


def test_each_window_chooses_the_best_in_sample_sharpe(walk_forward, standalone):
    _, report = walk_forward
    days = pd.DatetimeIndex(standalone[LOOKBACKS[0]][2]).strftime("%Y-%m-%d")
    for w in report["windows"]:
        a, b = days.get_loc(w["train"][0]), days.get_loc(w["train"][1]) + 1
        sharpes = {lb: r[a:b].mean() / r[a:b].std(ddof=1) * np.sqrt(252) for lb, (r, _, _) in standalone.items()}
        assert w["params"]["strategy.params.lookback"] == max(sharpes, key=sharpes.get)
        assert w["in_sample_sharpe"] == pytest.approx(sharpes[w["params"]["strategy.params.lookback"]], rel=1e-9)
        assert days.get_loc(w["test"][0]) - b >= 5  # the embargo: 5 bars nobody uses


def test_report_has_dsr_pbo_and_in_versus_out_of_sample(walk_forward):
    run_dir, report = walk_forward
    dsr = report["deflated_sharpe"]
    assert dsr["n_trials"] == 3 and 0.0 <= dsr["dsr"] <= 1.0
    assert report["pbo"]["n_splits"] == 6 and 0.0 <= report["pbo"]["pbo"] <= 1.0
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["sharpe"] == pytest.approx(report["out_of_sample"]["sharpe"])
    assert metrics["deflated_sharpe"] == dsr["dsr"] and metrics["pbo"] == report["pbo"]["pbo"]
    assert set(report["in_sample"]) >= {"sharpe", "cagr", "max_drawdown"}
    table = pd.read_parquet(run_dir / "walk_forward.parquet")
    assert len(table) == 3 * len(report["windows"]) and table["chosen"].sum() == len(report["windows"])


def test_a_grid_key_outside_strategy_and_portfolio_is_named(tmp_path):
    from qt.errors import ConfigError

    cfg = _compose(*BASE, *WALK_FORWARD[:-1], "validation.grid={execution.fill_lag:[0,1]}")
    with pytest.raises(ConfigError, match=r"validation\.grid: execution\.fill_lag: a walk-forward grid varies only"):
        run_walk_forward(cfg, tmp_path)


def test_an_unknown_objective_is_named_before_data_loads(tmp_path):
    from qt.errors import ConfigError

    cfg = _compose(*BASE, *WALK_FORWARD, "validation.objective=sharp")
    with pytest.raises(ConfigError, match=r"validation\.objective: unknown metric 'sharp'; choose one of"):
        run_walk_forward(cfg, tmp_path)


def test_an_optuna_study_per_window_chooses_the_best_configuration_it_tried(tmp_path, standalone):
    space = "validation.space={strategy.params.lookback:'choice(21,63,126)'}"
    cfg = _compose(*BASE, *WALK_FORWARD[:-1], "validation.search=optuna", "validation.n_trials=6", space)
    run_walk_forward(cfg, tmp_path)
    report = json.loads((tmp_path / "walk_forward.json").read_text())
    days = pd.DatetimeIndex(standalone[LOOKBACKS[0]][2]).strftime("%Y-%m-%d")
    lookback_of = [c["params"]["strategy.params.lookback"] for c in report["configs"]]
    assert sorted(lookback_of) == sorted(set(lookback_of)) and set(lookback_of) <= set(LOOKBACKS)
    for w in report["windows"]:
        a, b = days.get_loc(w["train"][0]), days.get_loc(w["train"][1]) + 1
        sharpe = {lb: r[a:b].mean() / r[a:b].std(ddof=1) for lb, (r, _, _) in standalone.items()}
        tried = [lookback_of[c] for c in w["tried"]]
        assert w["params"]["strategy.params.lookback"] == max(tried, key=sharpe.get)
    assert report["deflated_sharpe"]["n_trials"] == len(report["configs"])
    again = tmp_path / "again"
    run_walk_forward(cfg, again)  # seeded studies: the same choices, the same files
    assert (again / "walk_forward.json").read_bytes() == (tmp_path / "walk_forward.json").read_bytes()
    assert (again / "equity.parquet").read_bytes() == (tmp_path / "equity.parquet").read_bytes()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("validation.test=0d", "validation.test: must be at least one bar or period"),
        ("validation.train=0d", "validation.train: must be at least one bar or period"),
        ("validation.train=999y", "validation.train: must be at most 200y"),
        ("validation.pbo_partitions=64", "validation.pbo_partitions: Input should be less than or equal to 20"),
        ("validation.n_trials=-1", "validation.n_trials: Input should be greater than or equal to 1"),
    ],
)
def test_settings_that_cannot_be_meant_are_refused_before_anything_runs(tmp_path, override, message):
    import subprocess
    import sys
    import time

    start = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-m", "qt", "run", *BASE, *WALK_FORWARD, override, "hydra.run.dir=run"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert out.returncode == 2, out.stdout + out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and message in lines[0], out.stderr
    assert "Traceback" not in out.stderr and time.monotonic() - start < 20
    assert not list(tmp_path.rglob("equity.parquet")) and not list(tmp_path.rglob("walk_forward.json"))


class _WindowTable(HTMLParser):
    """The page's walk-forward windows: {window: {key: shown value}} from the table's parameter cells."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[int, dict[str, str]] = {}
        self._window: int | None = None
        self._key: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and "data-window" in a:
            self._window = int(a["data-window"])
            self.rows[self._window] = {}
        elif tag == "td" and a.get("class") == "param":
            self._key = a["data-key"]

    def handle_data(self, data):
        if self._key is not None and self._window is not None:
            self.rows[self._window][self._key] = data.strip()
            self._key = None


def test_the_tearsheet_shows_each_windows_chosen_parameters_as_the_run_files_say(walk_forward):
    from collections import Counter

    from qt.evaluation.tearsheet import write_tearsheet

    run_dir, report = walk_forward
    html = write_tearsheet(run_dir).read_text()
    page = _WindowTable()
    page.feed(html)
    table = pd.read_parquet(run_dir / "walk_forward.parquet")
    chosen = table[table["chosen"]].sort_values("window")
    assert len(page.rows) == len(report["windows"]) == len(chosen) >= 4
    for (window, label), row in zip(
        chosen[["window", "label"]].itertuples(index=False), report["windows"], strict=True
    ):
        assert page.rows[window] == {"strategy.params.lookback": label.removeprefix("lookback=")}
        assert page.rows[window]["strategy.params.lookback"] == str(row["params"]["strategy.params.lookback"])
    counts = Counter(int(v["strategy.params.lookback"]) for v in page.rows.values())
    assert len(counts) >= 2  # the windows did not all choose the same lookback on this data
    n = len(report["windows"])
    shown = ", ".join(f"{v} in {counts[v]}" for v in sorted(counts)) + f" of {n} windows"
    title = html.split("<h1>", 1)[1].split("</h1>", 1)[0]
    assert f"lookback per window ({shown})" in title and "lookback 126" not in title and "lookback 63" not in title
    config = html.split('id="config-short">', 1)[1].split("</pre>", 1)[0]
    assert f"chosen per window - {shown}" in config and "lookback 126" not in config
    assert f'id="wf-dsr">{report["deflated_sharpe"]["dsr"]:.3f}<' in html
    assert f'id="wf-pbo">{report["pbo"]["pbo"]:.3f}<' in html
    assert html.count('class="mark mark-window"') == n  # the curve marks every window's first test bar
