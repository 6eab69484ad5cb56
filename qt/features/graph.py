"""The signal graph: named nodes that may refer to each other, parsed from YAML, checked, evaluated in order.

A node is ``{signal: NAME, ...params}`` (a built-in, plugin or allowlisted dotted path) or
``{indicator: TALIB_NAME, params: {...}, output: ...}``; an optional ``role: label`` marks
forward-looking training targets.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
from pydantic import ValidationError

from qt.config.problems import Problem, from_validation_error
from qt.data.panel import BarPanel
from qt.errors import ConfigError, DataError
from qt.features.signals.base import Role, Signal

log = logging.getLogger("qt")
NODE_KEYS = ("signal", "indicator", "role")


@dataclass(frozen=True)
class SignalGraph:
    """Signal nodes by name, with their roles; ``evaluate`` computes them dependencies first.

    Examples
    --------
    >>> g, problems = parse_graph({"ret": {"signal": "returns", "horizon": 2}, "z": {"signal": "cs_zscore", "of": "ret"}})
    >>> problems, g.order()
    ([], ['ret', 'z'])
    """

    nodes: Mapping[str, Signal]
    roles: Mapping[str, Role] = field(default_factory=dict)

    def role(self, name: str) -> Role:
        """The node's declared role, else its class's."""
        return self.roles.get(name, type(self.nodes[name]).role)

    def problems(self, declared: Iterable[str] = ()) -> list[Problem]:
        """Unknown references (with the closest names) and cycles, at ``(name, ...)`` paths.

        ``declared`` names nodes that exist in the spec but failed to parse (not reported again).
        """
        import difflib

        problems = []
        known = {*self.nodes, *declared}
        for name, node in self.nodes.items():
            for ref in node.references():
                if ref not in known:
                    close = difflib.get_close_matches(ref, list(self.nodes), n=1)
                    hint = f"; did you mean '{close[0]}'?" if close else ""
                    problems.append(
                        Problem((name,), f"refers to unknown node '{ref}'{hint}; nodes: {', '.join(self.nodes)}", ref)
                    )
        if not problems:
            cycle = self._cycle()
            if cycle:
                problems.append(Problem((cycle[0],), "cycle between signal nodes: " + " -> ".join(cycle)))
        return problems

    def _cycle(self) -> list[str] | None:
        state: dict[str, int] = {}
        stack: list[str] = []

        def visit(n: str) -> list[str] | None:
            state[n] = 1
            stack.append(n)
            for ref in self.nodes[n].references():
                if ref not in self.nodes:
                    continue  # declared but unparsable: reported on its own
                if state.get(ref) == 1:
                    return [*stack[stack.index(ref) :], ref]
                if ref not in state and (found := visit(ref)):
                    return found
            stack.pop()
            state[n] = 2
            return None

        for n in self.nodes:
            if n not in state and (found := visit(n)):
                return found
        return None

    def order(self, targets: Iterable[str] | None = None) -> list[str]:
        """Node names, each after the nodes it reads; only ancestors of ``targets`` when given."""
        out: list[str] = []
        seen: set[str] = set()

        def visit(n: str) -> None:
            if n in seen:
                return
            seen.add(n)
            for ref in self.nodes[n].references():
                visit(ref)
            out.append(n)

        for n in self.nodes if targets is None else targets:
            visit(n)
        return out

    def ancestors(self, name: str) -> set[str]:
        """The node and every node it reads, directly or not."""
        return set(self.order([name]))

    def node_key(self, name: str) -> str:
        """Hash of the node's class, code, parameters and (recursively) its inputs' keys."""
        node = self.nodes[name]
        payload = {
            "class": f"{type(node).__module__}.{type(node).__qualname__}",
            "code": _source_hash(type(node)),
            "params": node.model_dump(mode="json"),
            "inputs": {ref: self.node_key(ref) for ref in node.references()},
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()

    def evaluate(
        self, panel: BarPanel, targets: Iterable[str] | None = None, *, prefix: str = "signals", use_cache: bool = True
    ) -> dict[str, np.ndarray]:
        """Compute ``targets`` (default: every node) and what they need; the active signal cache is used if on."""
        from qt.features.cache import active_cache

        store = active_cache() if use_cache else None
        fingerprint = store.fingerprint(panel) if store is not None else ""
        values: dict[str, np.ndarray] = {}
        for name in self.order(targets):
            node = self.nodes[name]
            key = self.node_key(name) if store is not None else ""
            cached = store.get(key, fingerprint, name) if store is not None else None
            if cached is not None:
                values[name] = cached
                continue
            values[name] = compute_node(name, node, panel, values, prefix)
            if store is not None:
                store.put(key, fingerprint, values[name])
        return values


def compute_node(name: str, node: Signal, panel: BarPanel, values: Mapping[str, np.ndarray], prefix: str) -> np.ndarray:
    """One node's panel, checked for shape; failures name the node's YAML path."""
    try:
        out = node.compute(panel, {ref: values[ref] for ref in node.references()})
    except DataError as exc:
        raise type(exc)(f"{prefix}.{name}: {exc}") from None
    except ValueError as exc:
        raise ConfigError(f"{prefix}.{name}", str(exc)) from None
    out = np.asarray(out, dtype=np.float64)
    if out.shape != (panel.n_bars, panel.n_assets):
        raise ConfigError(
            f"{prefix}.{name}", f"signal returned shape {out.shape}, expected {(panel.n_bars, panel.n_assets)}"
        )
    return out


@cache
def _source_hash(cls: type) -> str:
    try:
        return hashlib.sha256(inspect.getsource(inspect.getmodule(cls) or cls).encode()).hexdigest()[:16]
    except (OSError, TypeError):
        return "no-source"


def parse_node(
    raw: Any, allowed: tuple[str, ...] = ("qt.", "strategies.")
) -> tuple[Signal | None, Role | None, list[Problem]]:
    """A node's Signal and declared role from its YAML mapping; problems have node-relative paths."""
    from qt.features.indicators import Indicator
    from qt.features.signals.registry import signal_class

    if isinstance(raw, Signal):
        return raw, None, []
    if not isinstance(raw, Mapping):
        return (
            None,
            None,
            [Problem((), f"a signal node must be a mapping with `signal:` or `indicator:`, got {raw!r}", raw)],
        )
    role: Role | None = None
    if "role" in raw:
        try:
            role = Role(raw["role"])
        except ValueError:
            return (
                None,
                None,
                [
                    Problem(
                        ("role",),
                        f"must be one of {', '.join(r.value for r in Role)}, got {raw['role']!r}",
                        raw["role"],
                    )
                ],
            )
    body = {k: v for k, v in raw.items() if k not in ("signal", "role")}
    try:
        if "indicator" in raw and "signal" in raw:
            return None, role, [Problem(("signal",), "give either `signal:` or `indicator:`, not both", raw["signal"])]
        if "indicator" in raw:
            return Indicator.model_validate(body), role, []
        if "signal" not in raw:
            return None, role, [Problem((), "needs `signal: NAME` (see `qt signals`) or `indicator: TALIB_NAME`")]
        name = str(raw["signal"])
        try:
            cls = signal_class(name, "signal", allowed)
        except ConfigError as exc:
            message = str(exc).removeprefix("signal: ")
            from qt.features.indicators import indicator_names

            if name.upper() in indicator_names():
                message += f"; {name.upper()} is a TA-Lib function: write `indicator: {name.upper()}`"
            return None, role, [Problem(("signal",), message, name)]
        return cls.model_validate(body), role, []
    except ValidationError as exc:
        fields = list(cls.model_fields) if "signal" in raw and "indicator" not in raw else list(Indicator.model_fields)
        return None, role, from_validation_error(exc, fields=fields)


def parse_graph(raw: Any, allowed: tuple[str, ...] = ("qt.", "strategies.")) -> tuple[SignalGraph, list[Problem]]:
    """The graph of a ``signals:`` mapping and every problem in it (paths start at the node name)."""
    if not isinstance(raw, Mapping) or not raw:
        return SignalGraph({}), [Problem((), f"must be a non-empty mapping of named signal nodes, got {raw!r}", raw)]
    nodes: dict[str, Signal] = {}
    roles: dict[str, Role] = {}
    problems: list[Problem] = []
    for name, spec in raw.items():
        node, role, found = parse_node(spec, allowed)
        problems.extend(Problem((str(name), *p.path), p.message, p.value) for p in found)
        if node is not None:
            nodes[str(name)] = node
            if role is not None:
                roles[str(name)] = role
    graph = SignalGraph(nodes, roles)
    return graph, [*problems, *graph.problems(declared=[str(n) for n in raw])]
