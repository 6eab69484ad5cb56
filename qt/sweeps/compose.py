"""Compose once per choice of config groups: a sweep's job configs without a Hydra compose per run.

Hydra composes every job of a sweep from scratch (~20 YAML files parsed and merged,
~0.4 s). The defaults list of a job depends only on its config-group overrides
(``portfolio=meanvar``, ``+experiment=x``, ``~risk``) and the sweep's ``hydra.*``
overrides, so :class:`ComposeOnceLoader` composes once per distinct set of those and
applies each job's value overrides (``key=v``, ``+key=v``, ``++key=v``, ``~key``) to a
copy with Hydra's own function, in the same order and with the same errors as Hydra's
``load_configuration``. The composed configs are kept per process (a joblib worker
composes once per group choice, not once per run) under the sweep's token, so a
notebook that sweeps twice never sees a stale config.
"""

from __future__ import annotations

import copy
import pickle
import sys
from typing import Any

from hydra._internal.config_loader_impl import ConfigLoaderImpl, get_overrides_dirname
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.errors import ConfigCompositionException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

_COMPOSED: dict[tuple[Any, ...], bytes | DictConfig] = {}  # (token, name, hydra + group overrides) -> composed
_REPOS: dict[tuple[Any, ...], Any] = {}  # (token, config name, hydra overrides) -> Hydra's config repository
_MAX_KEPT = 64  # distinct group choices kept per process (a sweep over 3 groups x 4 options is 64)


class ComposeOnceLoader(ConfigLoaderImpl):
    """Hydra's config loader whose ``load_sweep_config`` composes once per choice of config groups."""

    def __init__(self, loader: ConfigLoaderImpl, token: str) -> None:
        self.__dict__.update(loader.__dict__)  # the same search path and repository as Hydra's own loader
        self.token = token

    def load_sweep_config(self, master_config: DictConfig, sweep_overrides: list[str]) -> DictConfig:
        """The job's config: Hydra's ``load_sweep_config``, composing only when its group choices are new."""
        hydra_overrides = OmegaConf.to_container(master_config.hydra.overrides.hydra)
        assert isinstance(hydra_overrides, list)
        overrides = [str(o) for o in hydra_overrides] + list(sweep_overrides)
        cfg = self.compose(master_config.hydra.job.config_name, overrides)
        OmegaConf.copy_cache(from_config=master_config, to_config=cfg)  # ${now:} etc. as the sweep resolved them
        return cfg

    def compose(self, config_name: str | None, overrides: list[str]) -> DictConfig:
        """``load_configuration(config_name, overrides, RUN)``, from a kept composition when one fits."""
        try:
            parsed = OverridesParser.create().parse_overrides(overrides=overrides)
            self.validate_sweep_overrides_legal(overrides=parsed, run_mode=RunMode.RUN, from_shell=True)
            structural, values = self._split(config_name, parsed)
            key = (self.token, config_name, tuple(o.input_line for o in structural))
            base = _COMPOSED.get(key)
            if base is None:
                composed = self.load_configuration(
                    config_name=config_name, overrides=[str(o.input_line) for o in structural], run_mode=RunMode.RUN
                )
                if len(_COMPOSED) >= _MAX_KEPT:
                    _COMPOSED.clear()
                base = _COMPOSED[key] = _frozen(composed)
            cfg = pickle.loads(base) if isinstance(base, bytes) else copy.deepcopy(base)
            ConfigLoaderImpl._apply_overrides_to_config(values, cfg)
            _record_overrides(cfg, parsed)
            return cfg
        except OmegaConfBaseException as e:
            raise ConfigCompositionException().with_traceback(sys.exc_info()[2]) from e

    def _split(self, config_name: str | None, parsed: list[Override]) -> tuple[list[Override], list[Override]]:
        """(overrides that shape the defaults list or Hydra's node, value overrides of the task's config).

        The same test as Hydra's defaults list (``Overrides.__init__``): an override is a
        group choice when its key is a config group and its value is not a dict.
        """
        hydra = tuple(str(o.input_line) for o in parsed if o.is_hydra_override())
        repo = _REPOS.get((self.token, config_name, hydra))
        if repo is None:
            _, repo = self._parse_overrides_and_create_caching_repo(config_name, list(hydra))
            _REPOS[(self.token, config_name, hydra)] = repo
        structural, values = [], []
        for o in parsed:
            if o.is_hydra_override():
                structural.append(o)
            elif not isinstance(o.value(), dict) and repo.group_exists(o.key_or_group):
                structural.append(o)
            else:
                values.append(o)
        return structural, values


def _record_overrides(cfg: DictConfig, parsed: list[Override]) -> None:
    """``hydra.overrides.task`` and ``hydra.job.override_dirname`` of the whole job, in the order given (as Hydra)."""
    app = [o for o in parsed if not o.is_hydra_override()]
    cfg.hydra.overrides.task = [o.input_line for o in app]
    with open_dict(cfg.hydra):
        cfg.hydra.job.override_dirname = get_overrides_dirname(
            overrides=app,
            kv_sep=cfg.hydra.job.config.override_dirname.kv_sep,
            item_sep=cfg.hydra.job.config.override_dirname.item_sep,
            exclude_keys=cfg.hydra.job.config.override_dirname.exclude_keys,
        )


def _frozen(cfg: DictConfig) -> bytes | DictConfig:
    """The config pickled (a copy by unpickling is ~10x faster than a deepcopy), or itself when it cannot be.

    A node typed by a plugin's dataclass (submitit's launcher options) cannot be pickled by
    reference, as Hydra loads plugin modules outside ``sys.modules``.
    """
    try:
        return pickle.dumps(cfg)
    except (pickle.PicklingError, TypeError, AttributeError):
        return cfg


def copy_config(cfg: DictConfig) -> DictConfig:
    """A deep copy of ``cfg``: by pickling when it can, else ``copy.deepcopy``."""
    try:
        return pickle.loads(pickle.dumps(cfg))
    except (pickle.PicklingError, TypeError, AttributeError):
        return copy.deepcopy(cfg)


def clear() -> None:
    """Forget every kept composition of this process."""
    _COMPOSED.clear()
    _REPOS.clear()
