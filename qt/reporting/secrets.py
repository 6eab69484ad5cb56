"""Keeping secrets out of outputs: values read from the environment are never resolved into reports.

A secret lives only in the environment and reaches qt through ``${oc.env:NAME}``; when a
config is shown (tearsheet, logs) such values appear as ``<env:NAME>``, and keys that
name a secret (password, webhook_url, token, ...) are masked whatever their value.
"""

from __future__ import annotations

import re
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

ENV_INTERPOLATION = re.compile(r"\$\{oc\.env:([A-Za-z_][A-Za-z0-9_]*)[^}]*\}")
SECRET_KEYS = frozenset({"password", "webhook_url", "token", "secret", "api_key", "smtp_password"})
MASK = "<redacted>"


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
    safe = OmegaConf.create(_mask(raw))
    try:
        out = OmegaConf.to_container(safe, resolve=True)
    except Exception:
        out = OmegaConf.to_container(safe, resolve=False)
    return {str(k): v for k, v in out.items()} if isinstance(out, dict) else {}


def _mask(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _mask(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v, key) for v in value]
    if isinstance(value, str):
        if "oc.env:" in value:
            return ENV_INTERPOLATION.sub(lambda m: f"<env:{m.group(1)}>", value)
        if key.lower() in SECRET_KEYS and value:
            return MASK
    return value
