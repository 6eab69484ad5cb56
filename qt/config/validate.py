"""Pre-flight validation of a strategy spec: every problem at once, each with its YAML path and file:line:column.

Used by ``qt validate FILE`` and before every run. ``_target_`` is checked against the
allowlist before anything is imported; then the spec is validated against its target's
pydantic model (for pipeline specs: signal nodes, TA-Lib parameters, references, cycles).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from qt.config.instantiate import DEFAULT_ALLOWED, SPEC_ONLY_KEYS, build, check_targets, import_target
from qt.config.names import NameRegistry
from qt.config.problems import Problem, dotted, from_validation_error
from qt.config.yaml_marks import YamlMarks
from qt.errors import ConfigError

KEY = "strategy"
_INTERPOLATION = re.compile(r"^\$\{([^}]+)\}$")
_WORDING = [
    (re.compile(r"^Input should be greater than or equal to (\S+)"), r"must be >= \1"),
    (re.compile(r"^Input should be greater than (\S+)"), r"must be > \1"),
    (re.compile(r"^Input should be less than or equal to (\S+)"), r"must be <= \1"),
    (re.compile(r"^Input should be less than (\S+)"), r"must be < \1"),
    (re.compile(r"^Input should be a valid (\w+).*?(, got .*)?$"), r"must be a valid \1\2"),
]


@dataclass(frozen=True)
class SpecError:
    """One located problem: dotted key, message, and ``file:line:col`` when known."""

    key: str
    message: str
    where: str | None = None

    def __str__(self) -> str:
        return f"{self.key}: {self.message}" + (f"  ({self.where})" if self.where else "")


def validate_strategy(
    node: Any,
    *,
    source: str | Path | None = None,
    allowed: Iterable[str] = DEFAULT_ALLOWED,
    names: NameRegistry | None = None,
) -> list[SpecError]:
    """Every problem of the strategy spec ``node`` (a DictConfig, or a plain mapping); ``names`` resolves short names."""
    allowed = tuple(allowed)
    marks = YamlMarks.load(source) if source is not None and Path(source).is_file() else None
    raw = OmegaConf.to_container(node, resolve=False) if isinstance(node, (DictConfig, ListConfig)) else node
    problems = _problems(node, raw, allowed, names)
    return [_locate(p, raw, marks) for p in problems]


def _problems(node: Any, raw: Any, allowed: tuple[str, ...], names: NameRegistry | None) -> list[Problem]:
    if not isinstance(raw, Mapping):
        return [Problem((), f"a strategy spec must be a mapping, got {raw!r}", raw)]
    try:
        check_targets(raw, KEY, allowed)
    except ConfigError as exc:
        return [Problem(_relative(exc.key), str(exc).removeprefix(f"{exc.key}: "))]
    try:
        resolved = OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else raw
    except OmegaConfBaseException as exc:
        full_key = str(getattr(exc, "full_key", "") or "")
        return [Problem(_relative(full_key) if full_key else (), f"cannot resolve: {getattr(exc, 'msg', exc)}")]
    assert isinstance(resolved, dict)
    if "_target_" not in resolved:
        return [Problem(("_target_",), "missing: name the strategy class, or `pipeline` for a pipeline spec")]
    try:
        target = import_target(str(resolved["_target_"]), KEY, names)
    except ConfigError as exc:
        return [Problem(("_target_",), str(exc).removeprefix(f"{exc.key}: "), resolved["_target_"])]
    problems: list[Problem] = []
    if "rebalance" not in resolved and "rebalance" in (getattr(target, "model_fields", None) or {}):
        problems.append(Problem(("rebalance",), "missing: say when the strategy trades, e.g. rebalance: "
                                "{_target_: qt.rebalancing.Calendar, frequency: monthly}"))  # fmt: skip
    kwargs: dict[str, Any] = {}
    for key, v in resolved.items():
        k = str(key)
        if k in ("_target_", "_partial_", *SPEC_ONLY_KEYS):
            continue
        if isinstance(v, Mapping) and "_target_" in v:
            try:
                kwargs[k] = build(v, f"{KEY}.{k}", allowed=allowed, names=names)
            except ConfigError as exc:
                problems.append(Problem(_relative(exc.key), str(exc).removeprefix(f"{exc.key}: ")))
            continue
        kwargs[k] = v
    fields = getattr(target, "model_fields", None)
    if fields is None:
        try:
            build(resolved, KEY, allowed=allowed, names=names)
        except ConfigError as exc:
            problems.append(Problem(_relative(exc.key), str(exc).removeprefix(f"{exc.key}: ")))
        return problems
    from pydantic import ValidationError

    try:
        target.model_validate({k: v for k, v in kwargs.items() if k not in {p.path[0] for p in problems if p.path}})
    except ValidationError as exc:
        problems.extend(from_validation_error(exc, fields=[*fields, *SPEC_ONLY_KEYS]))
    return problems


def _relative(key: str) -> tuple[str | int, ...]:
    parts: list[str | int] = []
    for piece in key.removeprefix(KEY).lstrip(".").split("."):
        for m in re.finditer(r"([^\[\]]+)|\[(\d+)\]", piece):
            parts.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
    return tuple(parts)


def _locate(p: Problem, raw: Any, marks: YamlMarks | None) -> SpecError:
    message = p.message
    for pattern, repl in _WORDING:
        message = pattern.sub(repl, message)
    value: Any = raw
    for part in p.path:
        value = value[part] if isinstance(value, Mapping) and part in value else None
    source = _INTERPOLATION.match(value) if isinstance(value, str) else None
    if source:
        message += f" (the value of {source.group(1).lstrip('.')})"
    where = None
    if marks is not None:
        mark = marks.find(p.path, key=message.startswith("unknown"))
        where = str(mark) if mark else None
    return SpecError(dotted(KEY, p.path), message, where)


def spec_as_config(path: str | Path) -> DictConfig:
    """A standalone spec file under ``strategy``, with the run's top-level keys so ``${seed}`` etc. resolve."""
    from qt.config.paths import conf_dir
    from qt.config.safe_yaml import load_file

    spec = load_file(path)
    top = OmegaConf.load(conf_dir() / "config.yaml")
    base = {k: v for k, v in OmegaConf.to_container(top, resolve=False).items() if k not in ("defaults", "hydra")}  # type: ignore[union-attr]
    return OmegaConf.create({**base, KEY: spec})


def source_of(cfg: DictConfig) -> Path | None:
    """The YAML file the run's ``strategy`` came from (via Hydra's choices), if it can be found."""
    choice = OmegaConf.select(cfg, "hydra.runtime.choices.strategy", default=None)  # compose(return_hydra_config=True)
    if choice is None:
        try:
            from hydra.core.hydra_config import HydraConfig

            if not HydraConfig.initialized():
                return None
            choice = HydraConfig.get().runtime.choices.get(KEY)
        except Exception:
            return None
    if not choice:
        return None
    from qt.config.paths import strategy_dirs

    for folder in strategy_dirs():
        candidate = folder / f"{choice}.yaml"
        if candidate.is_file():
            return candidate
    return None


def validate_run(cfg: DictConfig, names: NameRegistry | None = None) -> None:
    """Before a run: raise one ConfigError listing every problem of the strategy spec."""
    node = OmegaConf.select(cfg, KEY)
    if node is None:
        return
    extra = OmegaConf.select(cfg, "allowed_targets") or []
    errors = validate_strategy(node, source=source_of(cfg), allowed=(*DEFAULT_ALLOWED, *extra), names=names)
    if errors:
        if len(errors) == 1:
            raise ConfigError(errors[0].key, str(errors[0]).removeprefix(f"{errors[0].key}: "))
        raise ConfigError("", f"{len(errors)} problems in the strategy spec:\n" + "\n".join(f"  {e}" for e in errors))
