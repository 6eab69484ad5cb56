"""Command-line overrides checked against what qt reads, before anything runs.

Hydra accepts any ``+key=value``: a misspelt knob would be added and silently ignored.
A key added with ``+`` must be read by something: a top-level key must be a run setting
(a key of ``conf/config.yaml``) or a config group; a key under ``strategy.params`` must be
referred to by an interpolation in the spec; a key inside a component (a node with
``_target_``) must be one of its constructor's arguments. Every override's value must
also resolve (``capital=${nope}`` names the key and the missing name).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable, Mapping
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from qt.config.hydra_errors import closest_first, did_you_mean
from qt.errors import ConfigError

PARAMS = "strategy.params"


def check_overrides(cfg: DictConfig, overrides: Iterable[str], *, groups: Iterable[str] = ()) -> None:
    """Raise a ConfigError for the first override that nothing reads, or whose value does not resolve.

    ``cfg`` is the composed config, ``overrides`` the command line as Hydra received it
    (sweeps already expanded), ``groups`` the config groups (``data``, ``strategy``, ...).
    """
    from hydra.core.override_parser.types import OverrideType

    groups = set(groups)
    parsed = [_parsed(str(o)) for o in overrides]
    chosen = {o.key_or_group: o.value() for o in parsed if o.package is None}
    check_mode(cfg, str(chosen.get("broker") or "paper"))
    for o in parsed:
        key = o.key_or_group
        if key in groups and o.package is None and not key.startswith("hydra"):
            _check_option(key, o.value())
        if o.package is not None or key.startswith("hydra") or key in groups:
            continue
        if o.type in (OverrideType.ADD, OverrideType.FORCE_ADD):
            _check_read(cfg, key, groups)
        if o.type is not OverrideType.DEL:
            _check_resolves(cfg, key)


_PARSED: dict[str, Any] = {}  # override text -> Hydra's parsed Override (a sweep's runs share most overrides)


def _parsed(text: str) -> Any:
    """Hydra's parse of one override, once per distinct text in this process (read only here)."""
    found = _PARSED.get(text)
    if found is None:
        from hydra.core.override_parser.overrides_parser import OverridesParser

        if len(_PARSED) >= 4096:
            _PARSED.clear()
        found = _PARSED[text] = OverridesParser.create().parse_overrides([text])[0]
    return found


def check_mode(cfg: DictConfig, choice: str) -> None:
    """A broker chooses where live orders go: without ``mode=live`` it would be ignored and a backtest run."""
    mode = OmegaConf.select(cfg, "mode", default="backtest")
    if mode != "live" and OmegaConf.select(cfg, "broker", default=None) is not None:
        raise ConfigError(
            "broker",
            f"broker={choice} sends orders live, but mode={mode}: run `qt run mode=live broker={choice}` "
            "(or drop broker= for a backtest)",
        )


def _check_option(group: str, value: Any) -> None:
    """A group choice with no YAML file: Hydra ignores it silently for optional groups (broker, validation)."""
    if group == "strategy" or not isinstance(value, str) or value == "null":
        return
    options = _group_options(group)
    if options and value not in options:
        raise ConfigError(group, f"no option '{value}'; choose one of: {', '.join(closest_first(value, options))}")


def _group_options(group: str) -> list[str]:
    """The options of a config group on Hydra's search path (qt's conf/ and whatever the user added)."""
    from hydra.core.global_hydra import GlobalHydra

    if GlobalHydra.instance().is_initialized():
        loader = GlobalHydra.instance().config_loader()
        key = (group, id(loader), _searchpath_key())
        if key not in _OPTIONS:  # a sweep's runs share the search path: list each group's folder once
            options = set(loader.get_group_options(group))
            _OPTIONS[key] = (loader, sorted(options | _searchpath_options(group)))
        return list(_OPTIONS[key][1])
    from qt.config.paths import conf_dir

    return sorted(p.stem for p in (conf_dir() / group).glob("*.yaml"))


# (group, loader id, search path) -> (the loader, kept so its id is not reused, the group's options)
_OPTIONS: dict[tuple[str, int, tuple[tuple[str, str], ...]], tuple[Any, list[str]]] = {}


def _searchpath_key() -> tuple[tuple[str, str], ...]:
    """The run's config sources (schema, path); empty outside a Hydra run."""
    from hydra.core.hydra_config import HydraConfig

    try:
        sources = HydraConfig.get().runtime.config_sources
    except ValueError:
        return ()
    return tuple((str(s.schema), str(s.path)) for s in sources)


def _check_read(cfg: DictConfig, key: str, groups: set[str]) -> None:
    parts = key.split(".")
    if len(parts) == 1:
        known = [*run_settings(), *(g for g in groups if "/" not in g)]
        if key not in known:
            raise ConfigError(
                key,
                f"no run setting or config group of that name{did_you_mean(key, known)} "
                f"(top-level keys: {', '.join(closest_first(key, known))})",
            )
        return
    if key.startswith(f"{PARAMS}.") and len(parts) == 3:
        _check_knob(cfg, parts[2])
        return
    if len(parts) == 2 and parts[0] in groups and not _has_target(cfg, parts[0]):
        _check_group_key(parts[0], parts[1])
        return
    _check_argument(cfg, parts)


def _has_target(cfg: DictConfig, key: str) -> bool:
    node = OmegaConf.select(cfg, key)
    return isinstance(node, DictConfig) and "_target_" in node


def _check_group_key(group: str, name: str) -> None:
    """A plain group node (``risk``, ``cache``): its keys are those its options in ``conf/GROUP/`` declare."""
    from qt.config.paths import conf_dir

    folder = conf_dir() / group
    known: set[str] = set()
    for option in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
        raw = OmegaConf.to_container(OmegaConf.load(option), resolve=False)
        if isinstance(raw, dict):
            known.update(str(k) for k in raw if k != "defaults")
    if known and name not in known:
        raise ConfigError(
            f"{group}.{name}",
            f"no {group} setting of that name{did_you_mean(name, known)} "
            f"(keys of {group}: {', '.join(closest_first(name, known))})",
        )


def run_settings() -> list[str]:
    """The top-level keys of the primary config (``capital``, ``start``, ...), without ``defaults`` and ``hydra``."""
    from qt.config.paths import conf_dir

    raw = OmegaConf.to_container(OmegaConf.load(conf_dir() / "config.yaml"), resolve=False)
    return [str(k) for k in raw if k not in ("defaults", "hydra")] if isinstance(raw, dict) else []


def _check_knob(cfg: DictConfig, knob: str) -> None:
    """A knob is read when some interpolation of the strategy refers to ``params.<knob>``."""
    raw = OmegaConf.to_container(OmegaConf.select(cfg, "strategy"), resolve=False)
    refs: set[str] = set()
    for text in _strings(raw):
        refs.update(m.group(1) for m in re.finditer(r"\$\{[^}]*?params\.([A-Za-z_][A-Za-z0-9_]*)", text))
    if knob in refs:
        return
    params = OmegaConf.select(cfg, PARAMS)
    declared = [str(k) for k in params if str(k) != knob] if isinstance(params, DictConfig) else []
    candidates = sorted(refs | set(declared))
    raise ConfigError(
        f"{PARAMS}.{knob}",
        f"no part of the strategy reads this knob (nothing refers to ${{{PARAMS}.{knob}}})"
        f"{did_you_mean(knob, candidates)}"
        + (f" (knobs: {', '.join(closest_first(knob, candidates))})" if candidates else ""),
    )


def _check_argument(cfg: DictConfig, parts: list[str]) -> None:
    """Inside a node with ``_target_``, an added key must be a constructor argument of that target."""
    for depth in range(len(parts) - 1, 0, -1):
        node = OmegaConf.select(cfg, ".".join(parts[:depth]))
        if not isinstance(node, DictConfig) or "_target_" not in node:
            continue
        if depth != len(parts) - 1:
            return  # deeper than an argument: the argument's own value is checked when it is built
        target = OmegaConf.to_container(node, resolve=False).get("_target_")  # type: ignore[union-attr]
        allowed = _arguments(str(target))
        name = parts[-1]
        if allowed is not None and name not in allowed:
            where = ".".join(parts[:depth])
            raise ConfigError(
                ".".join(parts),
                f"{target} takes no argument '{name}'{did_you_mean(name, allowed)} "
                f"(arguments of {where}: {', '.join(closest_first(name, allowed))})",
            )
        return


def _arguments(target: str) -> list[str] | None:
    """Constructor arguments of a dotted ``_target_`` (None when they cannot be told: short names, ``**kwargs``)."""
    if "." not in target or not target.startswith(("qt.", "strategies.")):
        return None  # short names and plugins: checked when built
    from qt.config.instantiate import import_target

    try:
        obj = import_target(target, "")
    except ConfigError:
        return None
    fields = getattr(obj, "model_fields", None)
    if fields is not None:
        return list(fields)
    try:
        params = inspect.signature(obj).parameters
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return None
    return [n for n, p in params.items() if p.kind is not inspect.Parameter.VAR_POSITIONAL]


def _check_resolves(cfg: DictConfig, key: str) -> None:
    """The override's value resolves (its interpolations name existing keys / set environment variables)."""
    from omegaconf.errors import OmegaConfBaseException

    from qt.config.hydra_errors import explain

    try:
        value = OmegaConf.select(cfg, key, throw_on_resolution_failure=True)
        if isinstance(value, (DictConfig, ListConfig)):
            OmegaConf.to_container(value, resolve=True)
    except OmegaConfBaseException as exc:
        error = explain(exc)
        if isinstance(error, ConfigError) and error.key:
            raise error from None
        raise ConfigError(key, f"cannot resolve: {getattr(exc, 'msg', exc)}") from None


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _searchpath_options(group: str) -> set[str]:
    """Options in folders the run added with ``hydra.searchpath=[file://DIR]`` (a plugin's own YAML files)."""
    from pathlib import Path

    from hydra.core.hydra_config import HydraConfig

    try:
        sources = HydraConfig.get().runtime.config_sources
    except ValueError:  # not inside a Hydra run
        return set()
    found: set[str] = set()
    for source in sources:
        if source.schema == "file":
            found |= {p.stem for p in (Path(source.path) / group).glob("*.yaml")}
    return found
