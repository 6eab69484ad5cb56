"""Keeping secrets out of outputs: values read from the environment are never resolved into files.

A secret lives only in the environment and reaches qt through ``${oc.env:NAME}``; when a
config is shown or saved (``.hydra/``, tearsheet, logs) such values appear unresolved or
as ``<env:NAME>``, keys that name a secret (password, webhook_url, token, ...) are masked
whatever their value, and so is the password inside a connection string (DSN).
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable
from enum import Enum
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

ENV_INTERPOLATION = re.compile(r"\$\{oc\.env:([A-Za-z_][A-Za-z0-9_]*)[^}]*\}")
SECRET_KEYS = frozenset({"password", "webhook_url", "token", "secret", "api_key", "smtp_password", "account"})
MASK = "<redacted>"
DSN_PASSWORD = re.compile(r"(://[^:/@\s]+:)([^@\s]+)(@)|(password=)(?!\$\{)([^\s&;]+)", re.IGNORECASE)


def is_env_reference(raw: Any) -> bool:
    """True when ``raw`` (an unresolved config value) is exactly one ``${oc.env:NAME[,default]}``."""
    return isinstance(raw, str) and ENV_INTERPOLATION.fullmatch(raw.strip()) is not None


def redacted(cfg: DictConfig | dict[str, Any]) -> dict[str, Any]:
    """The config resolved, except environment values (``<env:NAME>``) and secret keys (masked).

    Examples
    --------
    >>> redacted({"a": 1, "url": "${oc.env:HOME}", "password": "hunter2"})
    {'a': 1, 'url': '<env:HOME>', 'password': '<redacted>'}
    """
    raw = OmegaConf.to_container(cfg, resolve=False) if isinstance(cfg, (DictConfig, ListConfig)) else cfg
    masked = _mask(raw)
    with _SAFE_LOCK:
        safe = _created(masked)
        try:
            out = _resolved(masked, safe)
        except Exception:
            out = OmegaConf.to_container(safe, resolve=False)
    return {str(k): v for k, v in out.items()} if isinstance(out, dict) else {}


_SAFE: list[tuple[Any, DictConfig | ListConfig]] = []  # the last masked config redacted, and its OmegaConf copy
_SAFE_LOCK = threading.Lock()


def _created(masked: Any) -> DictConfig | ListConfig:
    """``OmegaConf.create(masked)``, or the last call's copy with its changed scalar values set.

    A sweep's next run differs from the last in a few values: setting them costs far less than a new copy.
    """
    if _SAFE:
        previous, node = _SAFE[0]
        changes: list[tuple[tuple[Any, ...], Any]] = []
        if _scalar_changes(previous, masked, (), changes) and len(changes) <= 64:
            try:
                for path, value in changes:
                    parent: Any = node
                    for k in path[:-1]:
                        parent = parent._get_node(k)
                    parent[path[-1]] = value
            except Exception:
                pass  # a new copy below
            else:
                OmegaConf.clear_cache(node)  # resolvers' cached results belong to the old values
                _SAFE[0] = (masked, node)
                return node
    node = OmegaConf.create(masked)
    _SAFE[:] = [(masked, node)]
    return node


def _scalar_changes(old: Any, new: Any, path: tuple[Any, ...], out: list[tuple[tuple[Any, ...], Any]]) -> bool:
    """Collect (path, new value) of the scalars that differ; False when the shapes or kinds differ."""
    if type(old) is dict and type(new) is dict:
        if [(type(k), k) for k in old] != [(type(k), k) for k in new]:
            return False
        return all(_scalar_changes(old[k], v, (*path, k), out) for k, v in new.items())
    if type(old) is list and type(new) is list:
        if len(old) != len(new):
            return False
        return all(_scalar_changes(a, b, (*path, i), out) for i, (a, b) in enumerate(zip(old, new, strict=True)))
    if type(old) not in _PLAIN or type(new) not in _PLAIN or not path:
        return False
    if type(old) is not type(new) or (repr(old) != repr(new) if type(new) is float else old != new):
        out.append((path, new))
    return True


def resolved(cfg: DictConfig) -> dict[str, Any]:
    """``OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)``, looking up only the strings that interpolate."""
    out = _resolved(OmegaConf.to_container(cfg, resolve=False, enum_to_str=True), cfg, enum_to_str=True)
    return out if isinstance(out, dict) else {}


def _resolved(plain: Any, node: Any, *, enum_to_str: bool = False) -> Any:
    """``OmegaConf.to_container(node, resolve=True)`` for ``node = OmegaConf.create(plain)``, resolving only strings.

    Only the strings that interpolate are looked up in ``node`` (a config has a handful among hundreds of values).
    """
    if isinstance(plain, dict):
        return {k: _resolved_value(v, node, k, enum_to_str) for k, v in plain.items()}
    return [_resolved_value(v, node, i, enum_to_str) for i, v in enumerate(plain)]


def _resolved_value(value: Any, parent: Any, key: Any, enum_to_str: bool) -> Any:
    if isinstance(value, (dict, list)):
        return _resolved(value, parent._get_node(key), enum_to_str=enum_to_str)
    if isinstance(value, str) and "${" in value:
        got = parent[key]
        if isinstance(got, (DictConfig, ListConfig)):
            return OmegaConf.to_container(got, resolve=True, enum_to_str=enum_to_str)
        return got.name if enum_to_str and isinstance(got, Enum) else got
    return value


def portable(cfg: DictConfig) -> dict[str, Any]:
    """The config resolved, except environment references (kept as ``${oc.env:NAME}``), secrets masked.

    What a state folder keeps so the same run can be composed again later (``qt tearsheet`` runs
    its backtest from it): a value that came from the environment is read from it again then,
    never written down, and never replaced by a ``<env:NAME>`` mask that no longer composes.

    Examples
    --------
    >>> from omegaconf import OmegaConf
    >>> portable(OmegaConf.create({"dir": "${oc.env:QT_X_DIR,out}", "sub": "${dir}/c", "password": "pw", "n": 1}))
    {'dir': '${oc.env:QT_X_DIR,out}', 'sub': '${oc.env:QT_X_DIR,out}/c', 'password': '<redacted>', 'n': 1}
    """
    raw = OmegaConf.to_container(cfg, resolve=False)
    tokens: dict[str, str] = {}

    def tokenize(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: tokenize(v) for k, v in value.items()}
        if isinstance(value, list):
            return [tokenize(v) for v in value]
        if isinstance(value, str) and "oc.env:" in value:
            token = f"QTENV{len(tokens):06d}QTENV"
            tokens[token] = value
            return token
        return value

    resolved = OmegaConf.to_container(OmegaConf.create(tokenize(raw)), resolve=True)

    def restore(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: restore(v) for k, v in value.items()}
        if isinstance(value, list):
            return [restore(v) for v in value]
        if isinstance(value, str) and "QTENV" in value:
            for token, original in tokens.items():
                value = value.replace(token, original)
        return value

    out = _mask(restore(resolved), keep_env=True)
    return {str(k): v for k, v in out.items()} if isinstance(out, dict) else {}


def _mask(value: Any, key: str = "", *, keep_env: bool = False, secrets: list[str] | None = None) -> Any:
    """Mask secret keys and DSN passwords; ``${oc.env:NAME}`` becomes ``<env:NAME>`` unless ``keep_env``."""
    if secrets is None:
        secrets = secret_values()  # once per config, not once per string (a sweep masks three configs per run)
    if isinstance(value, dict):
        return {k: _mask(v, str(k), keep_env=keep_env, secrets=secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v, key, keep_env=keep_env, secrets=secrets) for v in value]
    if isinstance(value, str):
        if "oc.env:" in value:
            return value if keep_env else ENV_INTERPOLATION.sub(lambda m: f"<env:{m.group(1)}>", value)
        if key.lower() in SECRET_KEYS and value:
            return MASK
        return scrub(value, secrets)
    return value


def mask_dsn(text: str) -> str:
    """``postgresql://user:pw@host/db`` -> ``postgresql://user:<redacted>@host/db`` (and ``password=...``).

    Examples
    --------
    >>> mask_dsn("postgresql://qt:s3cret@db:5432/prices")
    'postgresql://qt:<redacted>@db:5432/prices'
    """
    return DSN_PASSWORD.sub(lambda m: f"{m[1]}{MASK}{m[3]}" if m[1] else f"{m[4]}{MASK}", text)


SECRET_ENV = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|WEBHOOK|API_?KEY|CREDENTIAL|ACCOUNT", re.IGNORECASE)
LOCATION_ENV = re.compile(r"_(DSN|URL|URI)$", re.IGNORECASE)  # may carry a password: only that part is hidden
_SECRET_ASSIGNMENT = re.compile(  # key=value of a secret key, as in overrides and Hydra's job.override_dirname
    r"((?<![\w.])[+~]{0,2}(?:[\w-]+\.)*(?:" + "|".join(sorted(SECRET_KEYS)) + r")=)(?!\$\{oc\.env)([^\s,'\"]+)",
    re.IGNORECASE,
)
_URL_CREDENTIALS = re.compile(r"(\w+://)([^/@\s:]+)(:[^/@\s]*)?@")
_ACCOUNT_FIELD = re.compile(  # broker account ids as client libraries print them: acctNumber='DU123', account="U1"
    r"\b(acct(?:Number|Code)?|account(?:Name|Id)?|managedAccounts?)=(['\"])([^'\"]+)\2", re.IGNORECASE
)
_REMEMBERED: set[str] = set()  # secrets learnt at run time (an account typed in a config, the broker's accounts)


def remember_secret(*values: str | None) -> None:
    """Hide ``values`` wherever they appear from now on in this process (logs, messages, files written).

    One mechanism for the whole process: what a component learns at run time (an account id typed in
    a config, the accounts a broker login manages) joins the environment's secrets in every scrub.
    """
    _REMEMBERED.update(v.strip() for v in values if v and len(v.strip()) >= 4)


def secret_values(extra: Iterable[str] = ()) -> list[str]:
    """Values to hide wherever they appear: secret-named environment variables, DSN passwords, and ``extra``.

    A ``*_DSN`` / ``*_URL`` variable contributes only its password (its host stays readable in
    messages); a variable named like a secret (``QT_SLACK_WEBHOOK_URL``, ``*_PASSWORD``,
    ``*_TOKEN``) its whole value. Longest first, so a value containing another is replaced whole.
    """
    found: set[str] = set()
    for name, value in os.environ.items():
        if not value:
            continue
        if SECRET_ENV.search(name) and len(value) >= 6:
            found.add(value)
        elif LOCATION_ENV.search(name):
            found.update(p for m in DSN_PASSWORD.finditer(value) if (p := m[2] or m[5]) and len(p) >= 4)
    found.update(v for v in extra if v and len(v) >= 4)
    found.update(_REMEMBERED)
    return sorted(found, key=len, reverse=True)


def scrub(text: str, secrets: Iterable[str] | None = None) -> str:
    """``text`` with every secret value, DSN password and URL credential masked.

    Examples
    --------
    >>> scrub("failed: unknown url type 'hooks/T0/s3cr3t-x'", ["hooks/T0/s3cr3t-x"])
    "failed: unknown url type '<redacted>'"
    >>> scrub("Position(account='DU123456', contract=Stock('AAPL'))", [])
    "Position(account='<redacted>', contract=Stock('AAPL'))"
    """
    for value in secret_values() if secrets is None else secrets:
        text = text.replace(value, MASK)
    text = _SECRET_ASSIGNMENT.sub(lambda m: f"{m[1]}{MASK}", text)
    text = _ACCOUNT_FIELD.sub(lambda m: f"{m[1]}={m[2]}{MASK}{m[2]}", text)
    text = mask_dsn(text)
    return _URL_CREDENTIALS.sub(lambda m: f"{m[1]}{m[2]}:{MASK}@" if m[3] else m[0], text)


class SecretFilter(logging.Filter):
    """A logging filter that scrubs every record (used by qt's console and run.log handlers, see conf/hydra)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message with secrets masked; never drops a record."""
        try:
            message = record.getMessage()
        except Exception:
            return True
        clean = scrub(message)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        return True


def mask_override(override: str) -> str:
    """A command-line override ``key=value`` with a secret key's value or a DSN's password masked.

    Examples
    --------
    >>> mask_override("report.reporters.slack.webhook_url=https://hooks.example/T0/B0/x")
    'report.reporters.slack.webhook_url=<redacted>'
    """
    key, sep, value = override.partition("=")
    if sep and key.lstrip("+~").rsplit(".", 1)[-1].lower() in SECRET_KEYS and not is_env_reference(value):
        return f"{key}={MASK}"
    return scrub(override)


def save_run_config(run_dir: Path, task_cfg: DictConfig, hydra_cfg: DictConfig) -> None:
    """Write ``.hydra/config.yaml``, ``hydra.yaml`` and ``overrides.yaml`` with secrets masked.

    qt turns off Hydra's own copy (``hydra.output_subdir: null``) because Hydra saves
    overrides verbatim, and a password given on the command line would land on disk.
    """
    folder = run_dir / ".hydra"
    folder.mkdir(parents=True, exist_ok=True)
    hydra_raw = _mask(OmegaConf.to_container(hydra_cfg, resolve=False, enum_to_str=True), keep_env=True)
    task = OmegaConf.to_container(hydra_cfg.hydra.overrides.task, resolve=False)  # never resolve a user's ${...}
    overrides = [mask_override(str(o)) for o in (task if isinstance(task, list) else [])]
    if isinstance(hydra_raw, dict):
        hydra_raw["hydra"]["overrides"]["task"] = overrides
        hydra_raw["hydra"]["job"]["override_dirname"] = mask_dirname(str(hydra_raw["hydra"]["job"]["override_dirname"]))
    files = {
        "config.yaml": _mask(OmegaConf.to_container(task_cfg, resolve=False, enum_to_str=True), keep_env=True),
        "hydra.yaml": hydra_raw,
        "overrides.yaml": overrides,
    }
    for name, content in files.items():
        _save_yaml(content, folder / name)


def _save_yaml(content: Any, path: Path) -> None:
    """``OmegaConf.save(OmegaConf.create(content))``'s bytes, without building a config first (a sweep saves per run)."""
    path.write_text(dump_yaml(content), encoding="utf-8")


def dump_yaml(content: Any, *, sort_keys: bool = False) -> str:
    """OmegaConf's YAML text of plain ``content`` (``OmegaConf.to_yaml``'s dump), each unchanged part emitted once.

    A block mapping's text is its items' texts one after another, and an item's text depends only
    on the item and its depth; a sweep's runs differ in a few items, so each item's text is kept
    (by its ``repr``) and only new ones are emitted. Content that is not plain data (or shares a
    container, which YAML would write as an anchor) is dumped whole.
    """
    import yaml
    from omegaconf._utils import get_omega_conf_dumper

    dumper = get_omega_conf_dumper()

    def dump(value: Any) -> str:
        return str(yaml.dump(value, default_flow_style=False, allow_unicode=True, sort_keys=sort_keys, Dumper=dumper))

    if not isinstance(content, dict) or not content or not _plain_tree(content, set()):
        return dump(content)
    items = list(content.items())
    if sort_keys:
        try:
            items = sorted(items)
        except TypeError:
            return dump(content)
    if len(items) == 1 and isinstance(items[0][0], str) and isinstance(items[0][1], dict) and items[0][1]:
        # one top-level key (Hydra's ``hydra:``): memoize its items one level down, written at that depth
        (name, inner), head = items[0], f"{items[0][0]}:"
        subitems = list(inner.items())
        if sort_keys:
            try:
                subitems = sorted(subitems)
            except TypeError:
                return dump(content)
        parts = []
        for k, v in subitems:
            text = _cached_item((name, k, v, sort_keys, id(dumper)), lambda k=k, v=v: dump({name: {k: v}}))
            if not text.startswith(head) or not text.endswith("\n"):
                return dump(content)
            parts.append(text[len(head) : -1])
        return head + "".join(parts) + "\n"
    return "".join(_cached_item((None, k, v, sort_keys, id(dumper)), lambda k=k, v=v: dump({k: v})) for k, v in items)


_ITEMS: dict[tuple[Any, ...], str] = {}  # (parent key, key, repr of value, sort_keys, dumper) -> YAML text
_PLAIN = (str, int, float, bool, type(None))


def _cached_item(key: tuple[Any, Any, Any, bool, int], emit: Any) -> str:
    parent, k, v, sort_keys, dumper = key
    memo = (parent, type(k), k, repr(v), sort_keys, dumper)
    found = _ITEMS.get(memo)
    if found is None:
        if len(_ITEMS) >= 2048:
            _ITEMS.clear()
        found = _ITEMS[memo] = emit()
    return found


def _plain_tree(value: Any, seen: set[int]) -> bool:
    """Only dicts, lists and scalars of exact built-in types, no container twice (their ``repr`` says it all)."""
    if type(value) in (dict, list):
        if id(value) in seen:
            return False
        seen.add(id(value))
        items = value.items() if type(value) is dict else enumerate(value)
        return all(type(k) in _PLAIN and _plain_tree(v, seen) for k, v in items)
    return type(value) in _PLAIN


def mask_dirname(dirname: str, item_sep: str = ",") -> str:
    """Hydra's ``job.override_dirname`` (``k=v,k=v``) with each secret override masked."""
    return item_sep.join(mask_override(part) for part in dirname.split(item_sep)) if dirname else dirname


def masked_sweep_config(cfg: DictConfig) -> DictConfig:
    """A sweep's config as ``multirun.yaml`` may hold it: secret keys, DSN passwords and secret overrides masked."""
    raw = _mask(OmegaConf.to_container(cfg, resolve=False), keep_env=True)
    overrides = raw.get("hydra", {}).get("overrides", {}) if isinstance(raw, dict) else {}
    for group in ("task", "hydra"):
        if isinstance(overrides.get(group), list):
            overrides[group] = [mask_override(str(o)) for o in overrides[group]]
    return OmegaConf.create(raw)


def scrub_sweep_config(sweep_dir: Path) -> None:
    """Mask secrets in the ``multirun.yaml`` Hydra's sweeper saved before the jobs ran (idempotent, atomic)."""
    path = sweep_dir / "multirun.yaml"
    if not path.exists():
        return
    tmp = path.with_name(f".multirun.{os.getpid()}.yaml")
    loaded = OmegaConf.load(path)
    if not isinstance(loaded, DictConfig):
        return  # not Hydra's multirun.yaml: nothing of ours to mask
    OmegaConf.save(masked_sweep_config(loaded), tmp)
    os.replace(tmp, path)
