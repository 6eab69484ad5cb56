"""qt rerun and qt diff on real runs of the CLI over a small CSV file."""

import json

import pytest

from qt.data.sources.synthetic import SyntheticData
from tests.conftest import run_qt

RUN = ["data=csv", "strategy=xmom", "strategy.params.lookback=63", "strategy.params.skip=0", "cache=off"]


def _run_on_a_csv(root):
    prices = root / "prices.csv"
    SyntheticData(n_assets=6, n_days=300, seed=3).load().to_frame().to_csv(prices, index=False)
    run_dir = root / "runs" / "first"
    proc = run_qt("run", *RUN, f"data.path={prices}", f"hydra.run.dir={run_dir}", cwd=root)
    assert proc.returncode == 0, proc.stderr
    return root, prices, run_dir


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    return _run_on_a_csv(tmp_path_factory.mktemp("rerun"))


def test_manifest_records_what_a_rerun_needs(first_run):
    root, prices, run_dir = first_run
    m = json.loads((run_dir / "manifest.json").read_text())
    assert m["overrides"] == [*RUN, f"data.path={prices}"]
    assert m["config"]["strategy"]["params"]["lookback"] == 63
    assert list(m["data_files"]) == [str(prices.resolve())]
    assert m["data_files"][str(prices.resolve())]["size"] == prices.stat().st_size
    assert {"numpy", "pandas", "hydra-core"} <= set(m["versions"]) and m["cwd"] == str(root)
    assert "git_dirty" in m and m["seeds"]["seed"] == 0


def test_rerun_of_an_unchanged_run_is_identical(first_run):
    root, _, run_dir = first_run
    proc = run_qt("rerun", str(run_dir), cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout.splitlines()
    assert out[0] == f"rerun: {run_dir}-rerun-1"
    assert out[1] == "identical"
    assert (run_dir.parent / "first-rerun-1" / "equity.parquet").read_bytes() == (
        run_dir / "equity.parquet"
    ).read_bytes()


def test_diff_shows_the_changed_key_and_metrics_side_by_side(first_run):
    root, prices, run_dir = first_run
    other = root / "runs" / "other"
    proc = run_qt("run", *RUN, "strategy.params.lookback=21", f"data.path={prices}", f"hydra.run.dir={other}", cwd=root)
    assert proc.returncode == 0, proc.stderr
    diff = run_qt("diff", str(run_dir), str(other), cwd=root)
    assert diff.returncode == 1
    text = diff.stdout
    assert "  strategy.params.lookback: 63 -> 21" in text
    assert "data: same" in text
    sharpe_a = json.loads((run_dir / "metrics.json").read_text())["sharpe"]
    sharpe_b = json.loads((other / "metrics.json").read_text())["sharpe"]
    row = next(line for line in text.splitlines() if line.startswith("sharpe "))
    assert row.split()[1:] == [f"{sharpe_a:,.4f}", f"{sharpe_b:,.4f}", f"{sharpe_b - sharpe_a:,.4f}"]
    same = run_qt("diff", str(run_dir), str(run_dir), cwd=root)
    assert same.returncode == 0 and "config: same" in same.stdout


def test_rerun_after_the_data_file_changed_names_the_file(tmp_path):
    root, prices, run_dir = _run_on_a_csv(tmp_path)  # its own file: the other tests keep theirs unchanged
    lines = prices.read_text().splitlines()
    header, rows = lines[0], lines[1:]
    cols = header.split(",")
    half = len(rows) // 2
    for r in range(half, len(rows)):  # every price from the middle on 2% higher: one jump, the equity changes
        cells = rows[r].split(",")
        for col in ("open", "high", "low", "close"):
            cells[cols.index(col)] = repr(float(cells[cols.index(col)]) * 1.02)
        rows[r] = ",".join(cells)
    prices.write_text("\n".join([header, *rows]) + "\n")
    proc = run_qt("rerun", str(run_dir), "--out", str(root / "runs" / "after-edit"), cwd=root)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = proc.stdout
    assert f"changed: data file {prices.resolve()}: content changed" in out
    assert "differs: equity.parquet" in out and "differs: metrics.json" in out
    assert "identical" not in out


def _sweep(root, quantile, sharpes):
    """A finished sweep's files as Hydra and qt leave them: multirun.yaml, per job overrides and metrics."""
    root.mkdir(parents=True)
    task = ["strategy.params.lookback=21,63", *([f"strategy.params.quantile={quantile}"] if quantile else [])]
    (root / "multirun.yaml").write_text(
        "hydra:\n  overrides:\n    task: [" + ", ".join(task) + "]\nstrategy:\n  params:\n"
        f"    quantile: {quantile or 0.2}\n"
    )
    for job, (lookback, sharpe) in enumerate(zip((21, 63), sharpes, strict=True)):
        run = root / str(job)
        (run / ".hydra").mkdir(parents=True)
        overrides = [
            f"strategy.params.lookback={lookback}",
            *([f"strategy.params.quantile={quantile}"] if quantile else []),
        ]
        (run / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
        (run / "metrics.json").write_text(json.dumps({"sharpe": sharpe, "total_return": sharpe / 10}))


def test_diff_of_two_sweeps_joins_their_leaderboards(tmp_path, capsys):
    from qt.cli import main

    _sweep(tmp_path / "a", None, (0.5, 1.25))
    _sweep(tmp_path / "b", 0.5, (0.75, 1.0))
    assert main(["diff", str(tmp_path / "a"), str(tmp_path / "b")]) == 1
    out = capsys.readouterr().out.splitlines()
    assert "  strategy.params.quantile: 0.2 -> 0.5" in out
    assert "  overrides.strategy.params.quantile: <absent> -> 0.5" in out
    rows = {line.split()[0]: line.split()[1:] for line in out[out.index("leaderboards (joined on overrides):") + 3 :]}
    assert rows == {"21": ["0.5000", "0.7500", "0.0500", "0.0750"], "63": ["1.2500", "1.0000", "0.1250", "0.1000"]}


def test_the_manifest_masks_secrets_in_the_config_and_the_overrides(tmp_path, monkeypatch):
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    from qt.config.paths import conf_dir
    from qt.runs.manifest import reproducibility

    monkeypatch.setenv("QT_TEST_DSN", "postgresql://qt:env-s3cret@db/prices")
    overrides = [
        "report=slack",
        "report.reporters.slack.webhook_url=https://hooks.example/T0/B0/cli-s3cret",
        "+store_dsn=${oc.env:QT_TEST_DSN}",
    ]
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose("config", overrides=overrides, return_hydra_config=True)
    monkeypatch.setattr(HydraConfig.instance(), "cfg", OmegaConf.masked_copy(cfg, "hydra"))  # as in a Hydra run
    task = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
    fields = reproducibility(task)
    text = json.dumps(fields)
    assert "s3cret" not in text
    assert fields["overrides"][1] == "report.reporters.slack.webhook_url=<redacted>"
    assert fields["config"]["report"]["reporters"]["slack"]["webhook_url"] == "<redacted>"
    assert fields["config"]["store_dsn"] == "<env:QT_TEST_DSN>"


def test_rerun_compares_the_packages_both_runs_recorded():
    """A package one run never imported (pandas, when the panel came from the cache) is no change; a version is."""
    from qt.commands.rerun import input_changes

    base = {"data_fingerprint": "f", "git_commit": "c", "config_hash": "h"}
    cached = {**base, "versions": {"qt": "0.1", "numpy": "2.4.6"}}
    parsed = {**base, "versions": {"qt": "0.1", "numpy": "2.4.6", "pandas": "3.1.1"}}
    assert input_changes(parsed, cached) == []
    assert input_changes(cached, parsed) == []
    upgraded = {**base, "versions": {"qt": "0.1", "numpy": "2.5.0", "pandas": "3.1.1"}}
    assert input_changes(parsed, upgraded) == ["package numpy 2.4.6 -> 2.5.0"]
