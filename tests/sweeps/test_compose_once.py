"""A sweep composes once per choice of config groups: every job's config equals Hydra's own compose.

Hydra's ``load_sweep_config`` (the reference, composing every job from its YAML files)
and qt's ``ComposeOnceLoader`` (composing once per group choice, then applying value
overrides) are given the same master config and the same job overrides, in every form
the docs show: values, lists, dicts, nested keys, ``+key``, ``++key``, ``~key``, group
choices (and ``+group``, ``~group``), and the jobs Hydra's sweeper expands from ranges,
choices, globs and lists; an Optuna interval becomes one sampled value per trial. The
whole config, Hydra's node included, must be equal; a bad override must fail the same way.
"""

from __future__ import annotations

import pytest
from hydra import initialize_config_dir
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.types import RunMode
from omegaconf import OmegaConf

import hydra_plugins.qt_sweeps  # noqa: F401 - registers ${qt.run_id:}
from qt.config.paths import conf_dir
from qt.sweeps.compose import ComposeOnceLoader, clear

HYDRA = ["hydra.sweep.dir=sweep", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]

JOBS = [
    ["strategy.params.lookback=63"],  # a value
    ["strategy.params.lookback=63", "strategy.params.quantile=0.25"],  # nested keys
    ["data=synthetic", "data.n_assets=30", "data.n_days=400"],  # a group choice and its values
    ["portfolio=meanvar", "strategy.params.lookback=126"],  # another group choice
    ["portfolio=equal", "strategy.params.lookback=126"],  # the default option named explicitly
    ["+extra.tags=[a,b,c]", "+extra.limits={gross: 1.5, net: 0.5}"],  # new keys: a list and a dict
    ["++capital=250000", "++extra2.x=1"],  # force-add: an existing and a new key
    ["~strategy.params.skip"],  # delete a key
    ["~allowed_targets", "strategy.params.lookback=84"],  # delete another
    ["costs=bps", "slippage=fixed_bps"],  # two group choices
    ["strategy=xmom", "capital=5e5", "seed=7"],  # group choice and top-level values
    ["start=2020-01-01", "end=null"],  # a date string and null
    ["strategy.params.quantile=0.31415926"],  # what an Optuna interval trial sends
    ["report.top_n=0", "report.sort_by=calmar", "+hydra.job.env_set.X=1"],  # a hydra.* override per job
]

SWEEPS = [  # command-line sweeps, expanded by Hydra's own basic sweeper into jobs
    ["strategy.params.lookback=range(42,253,42)", "portfolio=equal,meanvar"],
    ["strategy.params.quantile=choice(0.1,0.2)", "costs=glob(b*)"],
    ["+extra.w=[1,2],[3,4]"],
]


@pytest.fixture(scope="module")
def loaders():
    """Hydra's config loader (the reference), qt's compose-once loader over it, and a master sweep config."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        hydra_loader = GlobalHydra.instance().config_loader()
        master = hydra_loader.load_configuration("config", overrides=HYDRA, run_mode=RunMode.MULTIRUN)
        clear()
        yield hydra_loader, ComposeOnceLoader(hydra_loader, token="test"), master
    GlobalHydra.instance().clear()


def _same(loaders, job: list[str]) -> None:
    hydra_loader, once, master = loaders
    expected = hydra_loader.load_sweep_config(master, list(job))
    got = once.load_sweep_config(master, list(job))
    assert OmegaConf.to_container(got, resolve=False) == OmegaConf.to_container(expected, resolve=False)
    assert OmegaConf.is_struct(got) == OmegaConf.is_struct(expected)
    # resolved values too (the sweep's ${now:} and run id cached as Hydra caches them)
    assert got.hydra.sweep.dir == expected.hydra.sweep.dir


@pytest.mark.parametrize("job", JOBS, ids=[" ".join(j) for j in JOBS])
def test_job_config_equals_hydra_compose(loaders, job: list[str]) -> None:
    _same(loaders, job)


@pytest.mark.parametrize("sweep", SWEEPS, ids=[" ".join(s) for s in SWEEPS])
def test_every_job_of_a_sweep_equals_hydra_compose(loaders, sweep: list[str]) -> None:
    overrides = OverridesParser.create(config_loader=loaders[0]).parse_overrides(sweep)
    jobs = [job for batch in BasicSweeper.split_arguments(overrides, None) for job in batch]
    assert len(jobs) > 1
    for job in jobs:
        _same(loaders, job)


def test_composes_once_per_group_choice(loaders, monkeypatch: pytest.MonkeyPatch) -> None:
    _, once, master = loaders
    clear()
    composed: list[list[str]] = []
    original = type(once).load_configuration

    def counting(self, config_name, overrides, run_mode, **kwargs):
        composed.append(list(overrides))
        return original(self, config_name, overrides, run_mode, **kwargs)

    monkeypatch.setattr(type(once), "load_configuration", counting)
    for lookback in (42, 63, 84):
        for portfolio in ("equal", "meanvar"):
            once.load_sweep_config(master, [f"strategy.params.lookback={lookback}", f"portfolio={portfolio}"])
    assert len(composed) == 2  # one per portfolio, not one per job
    assert all(not any(o.startswith("strategy.params") for o in c) for c in composed)


BAD = [
    ["strategy.params.lookbak=5"],  # a key that does not exist
    ["portfolio=meanvr"],  # a group option that does not exist
    ["+capital=5"],  # adding a key that exists
    ["~strategy.params.nothing"],  # deleting a key that does not exist
    ["strategy.params.lookback=[1,2"],  # unparsable
]


@pytest.mark.parametrize("job", BAD, ids=[" ".join(j) for j in BAD])
def test_bad_override_fails_as_hydra_does(loaders, job: list[str]) -> None:
    hydra_loader, once, master = loaders
    with pytest.raises(Exception) as expected:
        hydra_loader.load_sweep_config(master, list(job))
    with pytest.raises(type(expected.value)) as got:
        once.load_sweep_config(master, list(job))
    assert str(got.value) == str(expected.value)
