"""``broker=ib`` settings outside a run (benchmarks, tools): the validated ``broker`` block.

The IB session itself is the live node's (``qt.live.node``) over the IB adapter (``qt.live.ib.adapter``).
"""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from qt.errors import ConfigError
from qt.live.ib.config import IBSettings


def ib_settings(cfg: DictConfig) -> IBSettings:
    """The validated ``broker`` block (ConfigError naming the key otherwise); ``_target_`` is the adapter's."""
    from pydantic import ValidationError

    raw = OmegaConf.to_container(OmegaConf.select(cfg, "broker"), resolve=True)
    if isinstance(raw, dict):
        raw = {k: v for k, v in raw.items() if k != "_target_"}
    try:
        return IBSettings.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(".".join(["broker", *map(str, err["loc"])]), str(err["msg"])) from None
