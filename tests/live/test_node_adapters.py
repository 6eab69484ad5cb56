"""Brokers are components: every conf/broker/*.yaml builds, through the allowlist, an adapter the node can open."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from qt.errors import ConfigError
from qt.live.adapter import BrokerAdapter
from qt.runs.live import broker_adapter

CONF = Path(__file__).resolve().parents[2] / "conf" / "broker"


@pytest.mark.parametrize("path", sorted(CONF.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_broker_builds_an_adapter(path: Path) -> None:
    cfg = OmegaConf.load(path)
    adapter = broker_adapter(OmegaConf.create({"broker": OmegaConf.to_container(cfg.broker, resolve=False)}))
    assert isinstance(adapter, BrokerAdapter)
    assert cfg.broker["_target_"].startswith("qt.live.")


def test_a_broker_outside_the_allowlist_is_refused_before_it_is_imported() -> None:
    cfg = OmegaConf.create({"broker": {"_target_": "os.system", "command": "true"}})
    with pytest.raises(ConfigError, match=r"broker\._target_: 'os\.system' is not under an allowed prefix"):
        broker_adapter(cfg)


def test_an_old_kind_config_says_which_target_to_use() -> None:
    with pytest.raises(ConfigError) as err:
        broker_adapter(OmegaConf.create({"broker": {"kind": "ib", "port": 4002}}))
    assert str(err.value).startswith("broker._target_: a broker is a component now")
    assert "_target_: qt.live.ib.adapter.IBAdapter" in str(err.value)


def test_no_broker_lists_the_shipped_ones() -> None:
    with pytest.raises(ConfigError, match=r"mode=live needs a broker: choose one of paper, ib"):
        broker_adapter(OmegaConf.create({}))


def test_a_component_that_is_not_an_adapter_is_named() -> None:
    cfg = OmegaConf.create({"broker": {"_target_": "qt.live.guard.GuardSettings"}})
    with pytest.raises(ConfigError, match=r"GuardSettings is not a broker adapter"):
        broker_adapter(cfg)


def test_adapter_settings_are_validated_naming_the_key() -> None:
    cfg = OmegaConf.create({"broker": {"_target_": "qt.live.ib.adapter.IBAdapter", "port": 99999}})
    with pytest.raises(ConfigError, match=r"broker\.port"):
        broker_adapter(cfg)
