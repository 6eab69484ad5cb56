"""The run spec reads the composed config once: mode, walk-forward, settings, choices, objective - or one error."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from qt.config.spec import RunSpec
from qt.enums import RunMode
from qt.errors import ConfigError


def test_the_default_config_is_a_backtest_with_the_run_settings():
    from hydra import compose, initialize_config_dir

    from qt.config.paths import conf_dir

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose("config", overrides=["capital=250000", "start=2010-01-04"])
    spec = RunSpec.parse(cfg, choices={"strategy": "xmom"})
    assert spec.mode is RunMode.BACKTEST and not spec.walk_forward
    assert spec.settings.capital == 250_000 and str(spec.settings.start) == "2010-01-04"
    assert spec.description == "backtest" and spec.broker is None
    assert (spec.objective, spec.direction) == ("sharpe", "maximize")


@pytest.mark.parametrize(
    ("cfg", "choices", "description"),
    [
        ({"mode": "live", "broker": {}}, {"broker": "ib"}, "live (ib)"),
        ({"mode": "live"}, {}, "live"),
        ({"mode": "backtest", "validation": {"train": "2y"}}, {}, "walk-forward"),
    ],
)
def test_what_the_run_is_called(cfg, choices, description):
    assert RunSpec.parse(OmegaConf.create(cfg), choices=choices).description == description


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        ({"mode": "paper"}, "mode: unknown mode 'paper'; choose mode=backtest or mode=live"),
        ({"direction": "up"}, "direction: must be maximize or minimize, got 'up'"),
        ({"benchmark": " "}, "benchmark: must be a symbol or equal_weight, got ' '"),
        ({"capital": -1}, "capital: Input should be greater than 0, got -1"),
    ],
)
def test_what_cannot_be_meant_is_one_error_naming_the_key(cfg, message):
    with pytest.raises(ConfigError) as err:
        RunSpec.parse(OmegaConf.create(cfg), choices={})
    assert str(err.value) == message


def test_the_spec_is_frozen():
    spec = RunSpec.parse(OmegaConf.create({}), choices={})
    with pytest.raises(AttributeError):
        spec.mode = RunMode.LIVE  # type: ignore[misc]
