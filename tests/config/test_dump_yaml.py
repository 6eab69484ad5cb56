"""dump_yaml (per-item memoized YAML) writes OmegaConf's very text: real configs and random trees."""

from __future__ import annotations

import random

import yaml
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from omegaconf._utils import get_omega_conf_dumper

from qt.config.paths import conf_dir
from qt.config.secrets import dump_yaml


def _reference(content: object, sort_keys: bool) -> str:
    return yaml.dump(
        content, default_flow_style=False, allow_unicode=True, sort_keys=sort_keys, Dumper=get_omega_conf_dumper()
    )


def test_real_configs_twice_as_to_yaml_writes_them() -> None:
    with initialize_config_dir(config_dir=str(conf_dir()), version_base=None):
        for lookback in (63, 126):
            cfg = compose("config", overrides=["strategy=xmom", f"strategy.params.lookback={lookback}"],
                          return_hydra_config=True)  # fmt: skip
            task = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
            assert dump_yaml(OmegaConf.to_container(task, resolve=True, enum_to_str=True), sort_keys=True) == (
                OmegaConf.to_yaml(task, resolve=True, sort_keys=True)
            )
            for part in (task, OmegaConf.masked_copy(cfg, "hydra")):
                raw = OmegaConf.to_container(part, resolve=False, enum_to_str=True)
                assert dump_yaml(raw) == _reference(raw, False)


def test_random_trees() -> None:
    rnd = random.Random(3)
    words = ["a", "key", "yes", "null", "1", "2.5", "x: y", "# c", "-", "é ü", "长", "${x}", "two\nlines", "end ", ""]

    def text() -> str:
        r = rnd.random()
        if r < 0.2:  # long enough to be folded at the line width
            return " ".join(rnd.choice(words) for _ in range(rnd.randint(5, 40)))
        return "x" * rnd.randint(60, 200) if r < 0.3 else rnd.choice(words)

    def value(depth: int) -> object:
        r = rnd.random()
        if depth > 3 or r < 0.5:
            return rnd.choice([text(), rnd.randint(-5, 10**12), rnd.random() * 1e5, True, None, float("nan"), -0.0])
        if r < 0.75:
            return {text(): value(depth + 1) for _ in range(rnd.randint(0, 5))}
        return [value(depth + 1) for _ in range(rnd.randint(0, 4))]

    for i in range(1500):
        content = {text(): value(1) for _ in range(rnd.randint(1, 6))}
        if i % 3 == 0:
            content = {"hydra": content}
        for sort_keys in (False, True):
            assert dump_yaml(content, sort_keys=sort_keys) == _reference(content, sort_keys)
            assert dump_yaml(content, sort_keys=sort_keys) == _reference(content, sort_keys)  # from the memo


def test_shared_container_keeps_its_anchor() -> None:
    shared = {"a": [1, 2]}
    content = {"x": shared, "y": shared}
    assert dump_yaml(content) == _reference(content, False)
    assert "&id001" in dump_yaml(content)


def test_redacted_resolves_as_to_container_does() -> None:
    """redacted resolves only interpolating strings: the same dict as resolving the whole masked config."""
    from qt.config.secrets import _mask, redacted

    with initialize_config_dir(config_dir=str(conf_dir()), version_base=None):
        for overrides in (["portfolio=hrp"], ["strategy=xmom", "risk=conservative"], ["data=synthetic", "cache=off"]):
            cfg = compose("config", overrides=overrides)
            whole = OmegaConf.to_container(OmegaConf.create(_mask(OmegaConf.to_container(cfg))), resolve=True)
            assert repr(redacted(cfg)) == repr(whole)


def test_redacted_over_a_sweep_reuses_its_copy_and_gives_the_same() -> None:
    """A sweep's runs one after another (values, then a different group, then back): as a fresh copy gives."""
    from qt.config.secrets import _mask, redacted

    runs = [
        ["strategy=xmom", "strategy.params.lookback=63"],
        ["strategy=xmom", "strategy.params.lookback=126", "capital=5e5"],
        ["strategy=xmom", "strategy.params.lookback=126", "portfolio=hrp"],
        ["strategy=xmom", "strategy.params.lookback=126", "portfolio=hrp", "risk_model=sample"],
        ["strategy=xmom", "strategy.params.lookback=189"],
        ["strategy=xmom", "strategy.params.lookback='${capital}'"],
        ["strategy=xmom", "strategy.params.lookback=252"],
    ]
    with initialize_config_dir(config_dir=str(conf_dir()), version_base=None):
        for overrides in runs:
            cfg = compose("config", overrides=overrides)
            whole = OmegaConf.to_container(OmegaConf.create(_mask(OmegaConf.to_container(cfg))), resolve=True)
            assert repr(redacted(cfg)) == repr(whole), overrides


def test_resolved_is_to_container_resolved() -> None:
    from qt.config.secrets import resolved

    with initialize_config_dir(config_dir=str(conf_dir()), version_base=None):
        for overrides in (["portfolio=hrp"], ["strategy=xmom", "risk=conservative"], ["data=synthetic", "cache=off"]):
            cfg = compose("config", overrides=overrides)
            assert repr(resolved(cfg)) == repr(OmegaConf.to_container(cfg, resolve=True, enum_to_str=True))
