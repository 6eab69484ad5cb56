"""No module of qt imports from a layer above its own (imports inside functions included).

The layers follow the data flow (ARCHITECTURE.md): the nouns, config, data, the shared
decision nouns, features, strategies, portfolio and risk, the engines, evaluation and
reporting, and the entry points on top. Modules of one layer may import one another.
"""

from __future__ import annotations

import ast
from pathlib import Path

import qt

ROOT = Path(qt.__file__).parent
LAYERS: list[tuple[str, ...]] = [
    ("qt.enums", "qt.errors", "qt.types", "qt.__version__"),
    ("qt.config",),
    ("qt.data",),
    ("qt.context", "qt.rebalancing", "qt.risk_budget"),
    ("qt.features",),
    ("qt.strategies",),
    ("qt.portfolio", "qt.risk", "qt.execution"),
    ("qt.engine", "qt.results", "qt.backtest", "qt.live"),
    ("qt.evaluation", "qt.reporting", "qt.sweeps", "qt.validation.overfitting"),  # statistics every sweep reports
    (
        "qt.runs",
        "qt.validation",
        "qt.commands",
        "qt.app",
        "qt.cli",
        "qt.api",
        "qt.__main__",
        "qt",
        "qt.testing",
        "qt.sweeps.materialize",
    ),  # materializing a lean sweep run runs its backtest again
]


def layer_of(module: str) -> int:
    best = None
    for i, prefixes in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and (best is None or len(p) > len(best[1])):
                best = (i, p)
    assert best is not None, f"{module} is in no layer: add it to LAYERS"
    return best[0]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[str, int]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names if a.name.startswith("qt.")]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.startswith("qt"):
            if node.module == "qt":
                out += [(f"qt.{a.name}", node.lineno) for a in node.names]
            else:
                out.append((node.module, node.lineno))
    return out


def test_no_module_imports_from_a_layer_above_it():
    upward = []
    for path in sorted(ROOT.rglob("*.py")):
        me = module_name(path)
        mine = layer_of(me)
        for target, line in imports(path):
            if layer_of(target) > mine:
                upward.append(
                    f"{path.relative_to(ROOT.parent)}:{line}: {me} (layer {mine}) imports {target} "
                    f"(layer {layer_of(target)})"
                )
    assert not upward, "imports that run up the layers:\n" + "\n".join(upward)


def test_the_layer_test_catches_an_upward_import():
    assert layer_of("qt.strategies.xmom_crosssec") < layer_of("qt.portfolio.base")
    assert layer_of("qt.types") < layer_of("qt.config.instantiate") < layer_of("qt.runs.backtest")


APART = [  # (importer, imported): the shared core knows neither end, and neither end knows the other
    ("qt.engine", "qt.backtest"),
    ("qt.engine", "qt.live"),
    ("qt.results", "qt.backtest"),
    ("qt.results", "qt.live"),
    ("qt.execution", "qt.backtest"),
    ("qt.execution", "qt.live"),
    ("qt.backtest", "qt.live"),
    ("qt.live", "qt.backtest"),
    ("qt.live.ib", "qt.live.ibsim"),  # the IB adapter is tested against the wire, not the simulator's code
    ("qt.live.ibsim", "qt.live.ib"),
]


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_the_shared_core_knows_neither_end_and_the_ends_not_each_other():
    crossing = []
    for path in sorted(ROOT.rglob("*.py")):
        me = module_name(path)
        for target, line in imports(path):
            for importer, imported in APART:
                if _within(me, importer) and _within(target, imported):
                    crossing.append(f"{path.relative_to(ROOT.parent)}:{line}: {me} imports {target}")
    assert not crossing, "imports between the core and its ends:\n" + "\n".join(crossing)
