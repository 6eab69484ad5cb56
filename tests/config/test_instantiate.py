"""Safe instantiation: allowlist before import, dotted keys and interpolation sources in errors."""

from __future__ import annotations

import sys

import pytest
from omegaconf import OmegaConf

from qt.config.instantiate import build
from qt.errors import ConfigError


def test_target_outside_the_allowlist_is_refused_before_import():
    node = {"_target_": "qt_evil_module_that_does_not_exist.Thing"}
    with pytest.raises(
        ConfigError, match=r"^strategy.inner._target_: .qt_evil_module_that_does_not_exist.Thing. is not"
    ):
        build({"_target_": "qt.portfolio.optimizers.EqualWeight", "inner": node}, "strategy")
    assert "qt_evil_module_that_does_not_exist" not in sys.modules
    with pytest.raises(ConfigError, match=r"data._target_: 'os.system' is not under an allowed prefix"):
        build({"_target_": "os.system", "command": "true"}, "data")


def test_user_prefixes_extend_the_allowlist():
    obj = build({"_target_": "collections.OrderedDict"}, "x", allowed=("qt.", "collections."))
    assert type(obj).__name__ == "OrderedDict"


def test_unknown_key_suggests_the_closest_name():
    with pytest.raises(ConfigError, match=r"^costs.bsp: unknown key \(did you mean 'bps'\?\); allowed: bps, min_fee"):
        build({"_target_": "qt.execution.costs.BpsCosts", "bsp": 5}, "costs")


def test_error_names_the_params_key_the_value_came_from():
    cfg = OmegaConf.create(
        {
            "strategy": {
                "params": {"quantile": 3.0},
                "_target_": "qt.strategies.xmom_crosssec.CrossSectionalMomentum",
                "quantile": "${strategy.params.quantile}",
            }
        }
    )
    with pytest.raises(ConfigError) as info:
        build(cfg.strategy, "strategy")
    assert str(info.value) == (
        "strategy.params.quantile: should be less than or equal to 1, got 3.0 (used as strategy.quantile)"
    )


def test_nested_targets_are_built_and_params_are_not_passed():
    node = {
        "params": {"f": "weekly"},
        "_target_": "qt.strategies.equal_weight.EqualWeightStrategy",
        "rebalance": {"_target_": "qt.rebalancing.Calendar", "frequency": "weekly"},
    }
    strategy = build(node, "strategy")
    assert strategy.rebalance.frequency.value == "weekly"


def test_short_names_come_from_the_registry():
    from qt.strategies.registry import STRATEGIES

    assert type(build({"_target_": "xmom"}, "strategy", names=STRATEGIES)).__name__ == "CrossSectionalMomentum"
    with pytest.raises(ConfigError, match=r"strategy._target_: unknown strategy 'xmon'; did you mean 'xmom'\?"):
        build({"_target_": "xmon"}, "strategy", names=STRATEGIES)
    with pytest.raises(ConfigError, match=r"'xmom' is not a module path"):
        build({"_target_": "xmom"}, "strategy")


def test_moved_module_paths_keep_working():
    node = {"_target_": "qt.portfolio.rebalancing.Calendar", "frequency": "weekly"}
    assert type(build(node, "strategy.rebalance")).__module__ == "qt.rebalancing"


def test_missing_attribute_and_module_are_named():
    with pytest.raises(ConfigError, match=r"portfolio._target_: 'qt.portfolio.optimizers' has no 'EqualWeigth'"):
        build({"_target_": "qt.portfolio.optimizers.EqualWeigth"}, "portfolio")
    with pytest.raises(ConfigError, match=r"cannot import module 'qt\.nope'"):
        build({"_target_": "qt.nope.Thing"}, "portfolio")


def test_bad_enum_value_names_the_key():
    with pytest.raises(ConfigError, match=r"^execution.timing: should be 'close' or 'next_open', got 'next_opn'"):
        build({"_target_": "qt.execution.simulator.ExecutionSimulator", "timing": "next_opn"}, "execution")
