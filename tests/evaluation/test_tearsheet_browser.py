"""The tearsheet opened in a real headless Chromium: no console errors, no network, every chart drawn.

Chromium and chromedriver are Debian packages installed by `.ci/ensure-chromium` (run by
`make test`). Without them these tests skip, except under CI=true, where they fail.
A screenshot of each page is kept in test-artifacts/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
pytestmark = pytest.mark.slow

RUN_CHARTS = (
    "equity",
    "equity-log",
    "underwater",
    "rolling-sharpe",
    "rolling-volatility",
    "monthly-heatmap",
    "annual-returns",
    "exposure",
    "turnover",
    "holdings",
    "contribution",
    "distribution",
)
HALTED = (  # README's example over 2006 to mid-2009: the drawdown stop halts trading on 2008-10-07
    "strategy=xmom", "portfolio=meanvar", "risk_model=ledoit_wolf", "constraints=long_only_capped",
    "risk=conservative", "start=2006-01-01", "end=2009-06-30", "benchmark=SP500",
)  # fmt: skip


def qt(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qt", *args], cwd=REPO, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def browser():
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver_path):
        message = "chromium/chromedriver not installed (run .ci/ensure-chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = Path(os.environ.get("TMPDIR", "/tmp")) / f"qt-chromium-{os.getpid()}"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=1280,1000",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("runs")
    specs = {
        "full": ("strategy=xmom", "benchmark=SP500"),
        "one_month": ("strategy=equal_weight", "start=2020-01-01", "end=2020-01-31", "benchmark=equal_weight"),
        "no_trades": ("strategy=xmom", "start=2020-01-01", "end=2020-03-31"),
        "halted": HALTED,
    }
    out = {}
    for name, args in specs.items():
        done = qt("run", *args, f"hydra.run.dir={base / name}")
        assert done.returncode == 0, done.stderr
        out[name] = base / name
    return out


def open_page(driver, path: Path) -> dict:
    driver.get_log("browser")  # drop earlier entries
    driver.get_log("performance")
    driver.get(path.as_uri())
    page = {
        "console": [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")],
        "requests": [],
        "resources": driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)"),
    }
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            url = message["params"]["request"]["url"]
            if url != path.as_uri():
                page["requests"].append(url)
    return page


def chart_sizes(driver) -> dict[str, dict]:
    return driver.execute_script(
        """
        const out = {};
        for (const div of document.querySelectorAll('[data-chart]')) {
          const svg = div.querySelector('svg');
          const marks = svg ? svg.querySelectorAll('polyline, polygon, rect').length : 0;
          const visible = !div.hidden;
          const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
          const empty = svg ? svg.querySelector('text.empty') !== null : true;
          out[div.dataset.chart] = {marks, width: box.width, height: box.height, visible, empty};
        }
        return out;
        """
    )


def screenshot(driver, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, min(int(height) + 40, 12000))
    path = ARTIFACTS / f"tearsheet-{name}.png"
    driver.save_screenshot(str(path))
    driver.set_window_size(1280, 1000)
    return path


def test_full_run_tearsheet_renders_offline_with_every_chart(browser, runs):
    page = open_page(browser, runs["full"] / "tearsheet.html")
    assert page["console"] == []
    assert page["requests"] == [] and page["resources"] == []
    sizes = chart_sizes(browser)
    assert set(RUN_CHARTS) | {"rolling-beta"} <= set(sizes)
    for name, info in sizes.items():
        assert info["marks"] > 0 and not info["empty"], name
        if info["visible"]:
            assert info["width"] > 300 and info["height"] > 80, (name, info)
    body = browser.find_element("tag name", "body").text
    for text in ("Sharpe", "Max drawdown", "Alpha (annual)", "Worst drawdowns", "Full configuration", "SP500"):
        assert text in body
    shot = screenshot(browser, "full")
    assert shot.stat().st_size > 10_000


def test_log_scale_toggle_swaps_the_equity_charts(browser, runs):
    import pandas as pd

    open_page(browser, runs["one_month"] / "tearsheet.html")  # equity spans far less than 10x: linear first
    before = chart_sizes(browser)
    assert before["equity"]["visible"] and not before["equity-log"]["visible"]
    browser.find_element("id", "log-toggle").click()
    after = chart_sizes(browser)
    assert after["equity-log"]["visible"] and not after["equity"]["visible"]
    assert after["equity-log"]["height"] > 80
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
    # 1990-2022 grows more than 10x (from the saved NAV), so that tearsheet opens on the log scale
    nav = pd.read_parquet(runs["full"] / "equity.parquet")["nav"]
    assert max(nav.max(), 1e6) / min(nav.min(), 1e6) > 10  # capital 1e6 is the curve's first point
    open_page(browser, runs["full"] / "tearsheet.html")
    opened = chart_sizes(browser)
    assert opened["equity-log"]["visible"] and not opened["equity"]["visible"]
    browser.find_element("id", "log-toggle").click()
    assert chart_sizes(browser)["equity"]["visible"]


def test_halted_run_is_marked_and_the_new_sections_render(browser, runs):
    from selenium.webdriver.common.action_chains import ActionChains

    page = open_page(browser, runs["halted"] / "tearsheet.html")
    assert page["console"] == [] and page["requests"] == [] and page["resources"] == []
    sizes = chart_sizes(browser)
    for chart in ("contribution", "distribution", "equity", "underwater", "rolling-sharpe", "rolling-volatility"):
        assert sizes[chart]["marks"] > 0 and not sizes[chart]["empty"], chart
    banner = browser.find_element("id", "halt-banner").text
    assert banner.startswith("HALTED on 2008-10-07: drawdown_stop")
    assert browser.find_element("tag name", "h1").text.startswith("xmom — lookback 252, skip 21, quantile 0.2")
    config = browser.find_element("id", "config-short").text
    assert "portfolio: meanvar (ledoit_wolf, long_only_capped" in config and "_target_" not in config
    marks = browser.execute_script(
        "const s = document.querySelector('#equity-linear:not([hidden]) svg, #equity-log:not([hidden]) svg');"
        "return Array.from(s.querySelectorAll('g.mark-halt title')).map(t => t.textContent)"
    )
    assert len(marks) == 1 and marks[0].startswith("2008-10-07 HALT - drawdown_stop")
    events = [r.text for r in browser.find_elements("css selector", "#events tr.event-halt")]
    assert len(events) == 1 and events[0].startswith("2008-10-07 halt drawdown_stop")
    # the benchmark is drawn on the drawdown and rolling charts too (strategy + benchmark lines)
    lines = browser.execute_script(
        "return ['underwater', 'rolling-sharpe', 'rolling-volatility'].map("
        "c => document.querySelector(`[data-chart=${c}] svg`).querySelectorAll('polyline').length)"
    )
    assert lines == [2, 2, 2]
    body = browser.find_element("tag name", "body").text
    for text in ("Round trips", "Win rate", "Average win", "Average loss", "P&L by symbol", "Distribution of returns"):
        assert text in body
    # hovering a chart shows the date and the value of each line
    svg = browser.find_element("css selector", "[data-chart=underwater] svg")
    ActionChains(browser).move_to_element(svg).perform()
    tip = browser.find_element("id", "hover-tip")
    assert tip.is_displayed() and re.match(r"\d{4}-\d{2}-\d{2}\n.*drawdown: -?\d+\.\d{2}%", tip.text)
    assert [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")] == []
    screenshot(browser, "halted")


@pytest.mark.parametrize("name", ["one_month", "no_trades"])
def test_short_and_tradeless_runs_render(browser, runs, name):
    page = open_page(browser, runs[name] / "tearsheet.html")
    assert page["console"] == [] and page["requests"] == [] and page["resources"] == []
    sizes = chart_sizes(browser)
    assert set(RUN_CHARTS) <= set(sizes)
    for chart in ("equity", "underwater", "monthly-heatmap", "annual-returns", "exposure"):
        assert sizes[chart]["marks"] > 0, chart
    if name == "one_month":
        assert sizes["holdings"]["marks"] > 0
    else:
        assert sizes["holdings"]["empty"]  # nothing was held: the chart says so instead of drawing nothing
    screenshot(browser, name)


def test_comparison_of_two_runs_renders(browser, runs, tmp_path):
    out = tmp_path / "comparison.html"
    done = qt("tearsheet", str(runs["full"]), str(runs["one_month"]), "--out", str(out))
    assert done.returncode == 0, done.stderr
    page = open_page(browser, out)
    assert page["console"] == [] and page["requests"] == []
    sizes = chart_sizes(browser)
    assert sizes["equity"]["marks"] > 0
    body = browser.find_element("tag name", "body").text
    assert "Comparison" in body and str(runs["full"].name) in body and str(runs["one_month"].name) in body
    screenshot(browser, "comparison")


def test_leaderboard_html_renders_offline_and_links_tearsheets(browser, tmp_path):
    sweep = tmp_path / "sweep"
    done = qt(
        "run", "-m", "data=synthetic", "data.n_assets=20", "data.n_days=300",
        "strategy.params.lookback=42,-3", f"hydra.sweep.dir={sweep}",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    page = open_page(browser, sweep / "leaderboard.html")
    assert page["console"] == [] and page["requests"] == [] and page["resources"] == []
    rows = browser.find_elements("css selector", "tbody tr")
    assert [r.get_attribute("class") for r in rows] == ["ok", "failed"]
    link = browser.find_element("link text", "open")
    assert link.get_attribute("href").endswith("/0/tearsheet.html")
    link.click()
    assert browser.current_url.endswith("/0/tearsheet.html")
    assert chart_sizes(browser)["equity"]["marks"] > 0
    screenshot(browser, "leaderboard-linked")


def test_a_live_tearsheet_says_what_live_cost(browser, tmp_path_factory):
    """A paper replay with 20 bps of slippage beside the backtest without it: the section, its table and 3 charts."""
    base = tmp_path_factory.mktemp("live")
    small = ("strategy=xmom", "portfolio=equal", "data=synthetic", "data.n_assets=8", "data.n_days=160",
             "strategy.params.lookback=40", "strategy.params.skip=5", "strategy.params.frequency=weekly")  # fmt: skip
    done = qt("run", *small, f"hydra.run.dir={base / 'backtest'}")
    assert done.returncode == 0, done.stderr
    state = base / "paper"
    done = qt("run", "mode=live", "broker=paper", *small, "slippage=fixed_bps", "slippage.bps=20",
              f"live.state_dir={state}", f"hydra.run.dir={base / 'hydra'}")  # fmt: skip
    assert done.returncode == 0, done.stderr
    done = qt("tearsheet", str(state), "--vs-backtest", str(base / "backtest"))
    assert done.returncode == 0, done.stderr
    page = open_page(browser, state / "tearsheet.html")
    assert page["console"] == [] and page["requests"] == [] and page["resources"] == []
    sizes = chart_sizes(browser)
    for chart in ("live-cost", "live-vs-backtest", "live-gap"):
        assert sizes[chart]["marks"] > 0 and not sizes[chart]["empty"], chart
    assert "live (paper)" in browser.find_element("tag name", "h1").text
    table = browser.find_element("id", "live-cost-table").text
    assert "slippage" in table and "total (live" in table
    screenshot(browser, "live-cost")
