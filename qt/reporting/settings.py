"""The ``report`` config group: tearsheet, leaderboard and reporter settings, validated before a run."""

from __future__ import annotations

from typing import Any, Literal

from omegaconf import DictConfig, OmegaConf
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, ValidationError

from qt.config.problems import settings_error
from qt.config.secrets import is_env_reference
from qt.errors import ConfigError

SECRET_FIELDS = ("webhook_url", "password")


class ReportSettings(BaseModel):
    """``report.*``: what a run writes and tells, and how a sweep's leaderboard is ranked.

    Examples
    --------
    >>> ReportSettings().top_n
    3
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    tearsheet: bool = True
    top_n: int = Field(default=3, ge=0)
    sort_by: str = "sharpe"
    ascending: bool = False
    log_scale: bool = False
    timeout: PositiveFloat = 10.0
    progress: bool = True
    sweep_outputs: Literal["lean", "full"] = "lean"  # a sweep's runs: equity+metrics+manifest, or every file
    reporters: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def from_config(cls, cfg: DictConfig) -> ReportSettings:
        """Validate ``cfg.report`` (defaults when absent); errors name ``report.KEY``."""
        node = OmegaConf.select(cfg, "report")
        if node is None:
            return cls()
        raw = OmegaConf.to_container(node, resolve=False)
        values = dict(raw) if isinstance(raw, dict) else {}
        scalars = {k: v for k, v in values.items() if k != "reporters"}
        try:
            resolved = OmegaConf.to_container(OmegaConf.create(scalars), resolve=True) if scalars else {}
            return cls.model_validate(
                {**(resolved if isinstance(resolved, dict) else {}), "reporters": values.get("reporters") or {}}
            )
        except ValidationError as exc:
            raise settings_error(exc, "report", fields=cls.model_fields) from None


def build_reporters(cfg: DictConfig) -> dict[str, Any]:
    """Instantiate ``report.reporters.*``; a secret written in the config instead of the environment is an error."""
    from qt.config.instantiate import DEFAULT_ALLOWED, build

    node = OmegaConf.select(cfg, "report.reporters")
    if node is None:
        return {}
    allowed = (*DEFAULT_ALLOWED, *(OmegaConf.select(cfg, "allowed_targets") or []))
    out: dict[str, Any] = {}
    for name in node:
        key = f"report.reporters.{name}"
        sub = node[name]
        if sub is None:
            continue
        raw = OmegaConf.to_container(sub, resolve=False)
        for secret in SECRET_FIELDS:
            value = raw.get(secret) if isinstance(raw, dict) else None
            if value is not None and not is_env_reference(value):
                raise ConfigError(
                    f"{key}.{secret}",
                    "secrets are read from the environment only; leave it as ${oc.env:NAME,null} and export NAME",
                )
        out[str(name)] = build(sub, key, allowed=allowed)
    return out
