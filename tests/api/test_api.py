"""The notebook API: qt.run gives the CLI's files byte for byte; qt.load and qt.sweep return pandas objects."""

import subprocess
import sys

import pandas as pd
import pytest

import qt
from qt.errors import ConfigError, QtError
from tests.conftest import run_qt

OVERRIDES = ("data=synthetic", "data.n_assets=8", "data.n_days=400", "strategy=xmom", "strategy.params.lookback=63")
RESULT_FILES = ("equity.parquet", "weights.parquet", "orders.parquet", "fills.parquet", "metrics.json")


@pytest.fixture(scope="module")
def api_run(tmp_path_factory):
    return qt.run(*OVERRIDES, run_dir=tmp_path_factory.mktemp("api") / "run")


def test_qt_run_and_the_cli_write_byte_identical_results(api_run, tmp_path):
    cli_dir = tmp_path / "cli"
    proc = run_qt("run", *OVERRIDES, f"hydra.run.dir={cli_dir}")
    assert proc.returncode == 0, proc.stderr
    for name in RESULT_FILES:
        assert (api_run.run_dir / name).read_bytes() == (cli_dir / name).read_bytes(), name
    assert (api_run.run_dir / ".hydra" / "config.yaml").read_bytes() == (
        cli_dir / ".hydra" / "config.yaml"
    ).read_bytes()
    assert api_run.manifest["overrides"] == list(OVERRIDES)


def test_a_run_is_pandas_objects_and_renders_inline(api_run):
    equity = api_run.equity
    assert isinstance(equity, pd.DataFrame) and len(equity) == 400
    assert equity.index.name == "timestamp" and {"nav", "cash", "return"} <= set(equity.columns)
    assert isinstance(api_run.metrics, pd.Series)
    assert api_run.metrics["sharpe"] == pytest.approx(
        pd.read_json(api_run.run_dir / "metrics.json", typ="series")["sharpe"]
    )
    fills = api_run.fills
    assert len(fills) == api_run.metrics["n_trades"]
    assert (fills["notional"] == fills["quantity"] * fills["price"]).all()
    assert set(api_run.weights.columns) == {"timestamp", "symbol", "weight_before", "target_weight"}
    assert len(api_run.orders) >= len(fills)
    page = api_run._repr_html_()
    assert page.startswith("<iframe srcdoc=") and "&lt;html" in page.lower()
    loaded = qt.load(api_run.run_dir)
    pd.testing.assert_frame_equal(loaded.equity, equity)


def test_errors_are_raised_with_the_clis_message(tmp_path):
    with pytest.raises(ConfigError, match=r"strategy\.signals\.mom\.lookback: must be > 0, got -3"):
        qt.run(*OVERRIDES, "strategy.params.lookback=-3", run_dir=tmp_path / "bad")
    with pytest.raises(QtError, match="no such directory"):
        qt.load(tmp_path / "nothing-here")


def test_import_qt_stays_light():
    code = "import sys, qt; print(sorted(m for m in ('pandas', 'hydra', 'numpy', 'qt.api') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"
