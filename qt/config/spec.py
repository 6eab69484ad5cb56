"""The run spec: the composed config parsed once into a typed, frozen value every runner reads.

``qt run`` composes a config with Hydra; what kind of run it is (backtest, walk-forward, live
and through which broker), the run-level settings, the config-group choices and the ranking
objective are read from it here, once, with one error voice - not re-read with
``OmegaConf.select`` by each module that needs one of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig, OmegaConf

from qt.config.settings import RunSettings
from qt.enums import RunMode
from qt.errors import ConfigError

DIRECTIONS = ("maximize", "minimize")


@dataclass(frozen=True)
class RunSpec:
    """What one ``qt run`` is: its mode, whether it walks forward, its settings, choices and objective.

    Examples
    --------
    >>> spec = RunSpec.parse(OmegaConf.create({"mode": "live", "capital": 5e5, "broker": {"_target_": "x"}}),
    ...                      choices={"broker": "paper", "strategy": "xmom"})
    >>> spec.mode, spec.description, spec.settings.capital
    (<RunMode.LIVE: 'live'>, 'live (paper)', 500000.0)
    """

    mode: RunMode
    settings: RunSettings
    walk_forward: bool = False
    choices: Mapping[str, str] = field(default_factory=dict)  # config group -> option (strategy: xmom, ...)
    benchmark: str | None = None
    objective: str = "sharpe"
    direction: str = "maximize"

    @property
    def broker(self) -> str | None:
        """The broker's option name (``paper``, ``ib``, a plugin's), for live runs."""
        return self.choices.get("broker") if self.mode is RunMode.LIVE else None

    @property
    def description(self) -> str:
        """What a progress bar or a report calls the run: backtest, walk-forward, live (paper)."""
        if self.walk_forward:
            return "walk-forward"
        if self.mode is RunMode.LIVE:
            return f"live ({self.broker})" if self.broker else "live"
        return "backtest"

    @classmethod
    def parse(cls, cfg: DictConfig, *, choices: Mapping[str, str] | None = None) -> RunSpec:
        """Read ``cfg`` once; ConfigError naming the key for a mode, benchmark or objective that cannot be meant.

        ``choices``: the config-group choices; by default Hydra's, when called inside a Hydra run.
        """
        mode_value = OmegaConf.select(cfg, "mode", default=RunMode.BACKTEST.value)
        try:
            mode = RunMode(str(mode_value))
        except ValueError:
            raise ConfigError("mode", f"unknown mode {mode_value!r}; choose mode=backtest or mode=live") from None
        top = {str(k): v for k, v in cfg.items() if not isinstance(v, DictConfig)}
        resolved = OmegaConf.to_container(OmegaConf.create(top), resolve=True) if top else {}
        settings = RunSettings.parse({str(k): v for k, v in resolved.items()} if isinstance(resolved, dict) else {})
        direction = str(OmegaConf.select(cfg, "direction", default="maximize"))
        if direction not in DIRECTIONS:
            raise ConfigError("direction", f"must be maximize or minimize, got {direction!r}")
        objective = OmegaConf.select(cfg, "objective", default="sharpe")
        return cls(
            mode=mode,
            settings=settings,
            walk_forward=OmegaConf.select(cfg, "validation", default=None) is not None,
            choices=dict(hydra_choices() if choices is None else choices),
            benchmark=_benchmark(OmegaConf.select(cfg, "benchmark", default=None)),
            objective="sharpe" if objective is None else str(objective),
            direction=direction,
        )


def hydra_choices() -> dict[str, str]:
    """The config-group choices of the running Hydra job (``{}`` outside one)."""
    try:
        from hydra.core.hydra_config import HydraConfig

        if HydraConfig.initialized():
            return {str(k): str(v) for k, v in HydraConfig.get().runtime.choices.items() if v is not None}
    except (ImportError, ValueError):
        pass
    return {}


def _benchmark(value: Any) -> str | None:
    """``benchmark``: a symbol, ``equal_weight``, or null."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError("benchmark", f"must be a symbol or equal_weight, got {value!r}")
    return value.strip()
