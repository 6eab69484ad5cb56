"""A launcher option whose optional extra is not installed: one line saying what to install.

``hydra/launcher=submitit_local`` (or ``submitit_slurm``) without the ``submitit`` extra would
be Hydra's "no option" error, and ``hydra/launcher=ray`` without Ray an import error; these
options stay listed and, when chosen, stop the sweep before any run with the install command.
(No ``from __future__ import annotations``: Hydra imports plugin modules outside ``sys.modules``.)
"""

from collections.abc import Sequence
from typing import Any

from hydra.core.utils import JobReturn
from hydra.plugins.launcher import Launcher


class MissingExtraLauncher(Launcher):
    """Refuses to launch: ``option`` needs ``extra`` (``pip install 'qt[EXTRA]'``; ``make setup`` installs it)."""

    def __init__(self, option: str = "", extra: str = "", **_: Any) -> None:
        self.option = option
        self.extra = extra

    def setup(self, **_: Any) -> None:
        """Stop with the install command, before any run starts."""
        raise missing_extra(self.option, self.extra)

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        """Never reached: ``setup`` refuses."""
        raise missing_extra(self.option, self.extra)


def missing_extra(option: str, extra: str) -> Exception:
    """The one-line qt error for a launcher whose extra is not installed."""
    from qt.errors import ConfigError

    return ConfigError(
        "hydra/launcher",
        f"{option} needs the '{extra}' extra, which is not installed: pip install 'qt[{extra}]' "
        "(make setup installs every extra)",
    )
