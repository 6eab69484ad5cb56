"""The leaderboard a researcher reads: 80-column console table, heatmap of the ranking metric, and the
HTML page at 1400 px (sortable columns, tearsheet links in view)."""

from __future__ import annotations

import io
import json
import math
import os
import re
import shutil
from pathlib import Path

import pytest

from qt.evaluation.leaderboard import collect, print_table

from .conftest import TINY, qt


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cwd = tmp_path_factory.mktemp("board")
    qt(
        "run", "-m", *TINY, "report.top_n=2", "strategy.params.lookback=21,63,126", "strategy.params.quantile=0.2,0.4",
        "hydra.sweep.dir=sweep", cwd=cwd,
    )  # fmt: skip
    return cwd / "sweep"


def _sharpe(run_dir: Path) -> float:
    return float(json.loads((run_dir / "metrics.json").read_text())["sharpe"])


def test_console_table_fits_80_columns(sweep: Path) -> None:
    from rich.console import Console

    out = io.StringIO()
    print_table(collect(sweep), sweep, console=Console(file=out, width=80, force_terminal=False, color_system=None))
    lines = out.getvalue().splitlines()
    assert lines[-1].startswith("leaderboard: ")  # the path may be longer: it is printed whole, to be copied
    assert max(len(line) for line in lines[:-1]) <= 80
    header = next(line for line in lines if "lookback" in line)
    assert all(name in header for name in ("run", "lookback", "quantile", "sharpe", "cagr", "max_dd"))
    ok = [p for p in sweep.iterdir() if (p / "metrics.json").is_file()]
    best = max(ok, key=_sharpe)
    first_row = next(line for line in lines if re.match(r"^\W*1 ", line))
    assert f" {best.name} " in first_row and f"{_sharpe(best):.3f}" in first_row  # rank 1 = highest Sharpe
    assert sum("must be < lookback" in line for line in lines) == 2  # the failed runs' errors below the table


def test_heatmap_of_the_ranking_metric(sweep: Path) -> None:
    html = (sweep / "leaderboard.html").read_text()
    label = "sharpe by strategy.params.lookback (rows) and strategy.params.quantile (columns)"
    assert label in html
    svg = html[html.index(label) : html.index("</svg>", html.index(label))]
    cells = re.findall(r"<title>([^<]+)</title>", svg)
    expected = {}
    for run_dir in sweep.iterdir():
        overrides = (run_dir / ".hydra" / "overrides.yaml").read_text() if run_dir.is_dir() else ""
        if (run_dir / "metrics.json").is_file():
            lookback = re.search(r"lookback=(\d+)", overrides)[1]
            quantile = re.search(r"quantile=([\d.]+)", overrides)[1]
            expected[f"{lookback} {quantile}"] = _sharpe(run_dir)
    assert len(cells) == len(expected) == 4  # the two lookback=21 runs failed: their cells are blank
    for cell in cells:
        where, value = cell.rsplit(": ", 1)
        assert math.isclose(float(value), expected[where], abs_tol=0.006), cell


@pytest.fixture
def browser(tmp_path):
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver_path):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("chromium/chromedriver not installed (run .ci/ensure-chromium)")
        pytest.skip("chromium/chromedriver not installed (run .ci/ensure-chromium)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1400,900"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def test_page_at_1400px_sorts_and_shows_tearsheet_links(sweep: Path, browser) -> None:
    browser.get((sweep / "leaderboard.html").as_uri())
    width = browser.execute_script("return window.innerWidth")
    assert width <= 1400
    links = browser.find_elements("link text", "open")
    assert len(links) == 2  # report.top_n=2
    for link in links:
        rect = link.rect
        assert link.is_displayed() and rect["x"] >= 0 and rect["x"] + rect["width"] <= width
    headers = browser.find_elements("css selector", "#leaderboard thead th")
    names = [h.text.split(" ")[0] for h in headers]
    col = names.index("cagr")
    for h in headers:
        h_rect = h.rect
        if h.text.startswith(("cagr", "sharpe", "lookback", "tearsheet")):
            assert h_rect["x"] + h_rect["width"] <= width, h.text
    headers[col].click()  # numbers sort largest first on the first click
    rows = browser.find_elements("css selector", "tbody tr")
    assert [r.get_attribute("class") for r in rows] == ["ok"] * 4 + ["failed"] * 2  # failed runs last
    values = [float(r.find_elements("css selector", "td")[col].text.rstrip("%")) for r in rows[:4]]
    assert values == sorted(values, reverse=True)
    error = rows[-1].find_element("css selector", "td.error")
    assert "must be < lookback" in error.text and error.rect["x"] + error.rect["width"] <= width
    headers[col].click()
    rows = browser.find_elements("css selector", "tbody tr")
    assert [float(r.find_elements("css selector", "td")[col].text.rstrip("%")) for r in rows[:4]] == sorted(values)
