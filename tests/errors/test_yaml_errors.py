"""Strategy YAML: parser errors as file:line:col in one line; pathological files refused fast, before OmegaConf."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from qt.config.safe_yaml import MAX_BYTES, MAX_NODES, compose_file
from qt.errors import ConfigError
from tests.errors.conftest import assert_one_error

BROKEN = {
    # name: (text, line:col, problem)
    "syntax": (
        "params:\n  lookback: [1, 2\n_target_: pipeline\n",
        "3:9",
        "invalid YAML: expected ',' or ']', but got ':' (while parsing a flow sequence at line 2)",
    ),
    "tab": ("params:\n\tlookback: 5\n", "2:1", "invalid YAML: a tab character; YAML indents with spaces only"),
    "duplicate": (
        "params:\n  lookback: 5\n  lookback: 6\n_target_: pipeline\n",
        "3:3",
        "duplicate key 'lookback' (first at line 2); keep one",
    ),
}


def laughs(levels: int = 9, width: int = 9) -> str:
    """The "billion laughs": each level a list of ``width`` aliases of the level below (width**levels leaves)."""
    lines = ["l0: &l0 [" + ", ".join(['"lol"'] * width) + "]"]
    lines += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]" for i in range(1, levels + 1)]
    return "\n".join([*lines, "_target_: pipeline", ""])


@pytest.fixture
def spec_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "strategies"
    folder.mkdir()
    for name, (text, _, _) in BROKEN.items():
        (folder / f"{name}.yaml").write_text(text)
    (folder / "laughs.yaml").write_text(laughs())
    (folder / "huge.yaml").write_text("params:\n" + "".join(f"  k{i}: {i}\n" for i in range(MAX_BYTES // 10)))
    return folder


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_validate_and_run_name_file_line_col_and_the_problem(qt, spec_dir, tmp_path, name):
    _, where, problem = BROKEN[name]
    out = qt("validate", f"strategies/{name}.yaml")
    assert_one_error(out, f"error: strategies/{name}.yaml:{where}: {problem}")
    run = qt("run", f"strategy={name}")
    assert_one_error(run, f"ERROR: {spec_dir / name}.yaml:{where}: {problem}")
    assert not (tmp_path / "outputs").exists()


def test_billion_laughs_is_refused_before_it_expands(qt, spec_dir, tmp_path):
    started = time.perf_counter()
    with pytest.raises(
        ConfigError, match=rf"laughs.yaml:6:5: anchors and aliases expand to more than {MAX_NODES:,} nodes"
    ):
        compose_file(spec_dir / "laughs.yaml")
    assert time.perf_counter() - started < 0.2
    for args in (("validate", "strategies/laughs.yaml"), ("run", "strategy=laughs")):
        started = time.perf_counter()
        out = qt(*args, timeout=10)
        assert time.perf_counter() - started < 5  # the whole CLI; the check itself is milliseconds
        assert out.returncode == 2 and "anchors and aliases expand to more than 100,000 nodes; refused" in out.stderr
        assert "Traceback" not in out.stderr
    assert not (tmp_path / "outputs").exists()


def test_a_recursive_alias_is_refused(tmp_path):
    path = tmp_path / "loop.yaml"
    path.write_text("a: &a\n  b: *a\n")
    with pytest.raises(ConfigError, match=r"loop.yaml:1:4: an alias refers to the node that contains it"):
        compose_file(path)


def test_an_oversized_spec_is_refused_unread(qt, spec_dir):
    size = (spec_dir / "huge.yaml").stat().st_size
    assert size > MAX_BYTES
    started = time.perf_counter()
    with pytest.raises(ConfigError, match=rf"huge.yaml: {size:,} bytes is over the {MAX_BYTES:,}-byte limit"):
        compose_file(spec_dir / "huge.yaml")
    assert time.perf_counter() - started < 0.05
    out = qt("run", "strategy=huge", timeout=10)
    assert_one_error(
        out,
        f"ERROR: {spec_dir / 'huge.yaml'}: {size:,} bytes is over the {MAX_BYTES:,}-byte limit for a YAML spec; "
        "is it the right file?",
    )


def test_a_few_honest_aliases_still_load(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text("base: &b {lookback: 5}\nother: *b\n")
    assert compose_file(path) is not None
