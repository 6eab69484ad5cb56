"""Hydra plugins that let ``strategy=NAME`` find ``strategies/NAME.yaml``.

Hydra discovers modules in the ``hydra_plugins`` namespace package. A config source
with the scheme ``qt-strategies`` serves a folder of YAML specs as the ``strategy``
group, and a search-path plugin adds one such source per strategy folder.
"""

from __future__ import annotations

import os

from hydra.core.config_search_path import ConfigSearchPath
from hydra.core.object_type import ObjectType
from hydra.plugins.config_source import ConfigLoadError, ConfigResult, ConfigSource
from hydra.plugins.search_path_plugin import SearchPathPlugin

GROUP = "strategy"


class StrategyFolderSource(ConfigSource):
    """A folder of ``NAME.yaml`` specs, seen by Hydra as the group ``strategy``."""

    @staticmethod
    def scheme() -> str:
        return "qt-strategies"

    def _file(self, config_path: str) -> str | None:
        """Path of the folder entry behind ``strategy/...``; None for any other group."""
        parts = config_path.strip("/").split("/", 1)
        if parts[0] != GROUP:
            return None
        return os.path.join(self.path, parts[1]) if len(parts) > 1 else self.path

    def load_config(self, config_path: str) -> ConfigResult:
        path = self._file(self._normalize_file_name(config_path))
        if path is None or not os.path.isfile(path):
            raise ConfigLoadError(f"Strategy spec not found: {config_path}")
        from qt.config.safe_yaml import load_file

        cfg = load_file(path)  # bounded (size, aliases) and errors as file:line:col, before OmegaConf sees it
        with open(path, encoding="utf-8") as fh:
            header = ConfigSource._get_header_dict(fh.read(512))
        return ConfigResult(config=cfg, path=f"{self.scheme()}://{self.path}", provider=self.provider, header=header)

    def available(self) -> bool:
        return os.path.isdir(self.path)

    def is_group(self, config_path: str) -> bool:
        if config_path.strip("/") == "":
            return self.available()
        path = self._file(config_path)
        return path is not None and os.path.isdir(path)

    def is_config(self, config_path: str) -> bool:
        path = self._file(self._normalize_file_name(config_path))
        return path is not None and os.path.isfile(path)

    def list(self, config_path: str, results_filter: ObjectType | None) -> list[str]:
        files: list[str] = []
        if config_path.strip("/") == "":
            if results_filter in (None, ObjectType.GROUP):
                files.append(GROUP)
            return files
        path = self._file(config_path)
        if path is None or not os.path.isdir(path):
            return files
        for name in os.listdir(path):
            if name.startswith((".", "_")):
                continue
            self._list_add_result(
                files=files, file_path=os.path.join(config_path, name), file_name=name, results_filter=results_filter
            )
        return sorted(set(files))


class StrategySearchPath(SearchPathPlugin):
    """Adds the user's and the framework's strategy folders to Hydra's search path."""

    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        from qt.config.paths import strategy_dirs

        for folder in strategy_dirs():
            search_path.append(provider="qt-strategies", path=f"qt-strategies://{folder}")
