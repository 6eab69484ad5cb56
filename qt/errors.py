"""qt's exceptions: each message says what is wrong and what to change.

The CLI prints these as one line (no traceback) unless ``--debug`` or ``QT_DEBUG=1``.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_PROBLEM = 1  # a check ran and found a problem (qt validate, qt check lookahead)
EXIT_ERROR = 2  # bad input, usage or config: one message naming the key/file/row; also a sweep whose every run failed
EXIT_INTERNAL = 3  # an unexpected exception (a bug): one line; QT_DEBUG=1 shows the traceback


class QtError(Exception):
    """Base of every error qt reports to users."""


class ConfigError(QtError):
    """A config key is missing, unknown, of the wrong type or out of range.

    ``key`` is the dotted path of the offending key (``strategy.lookback``).
    """

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(f"{key}: {message}" if key else message)


class DataError(QtError):
    """Market data is unusable: unreadable file, bad rows, or a missing field."""


class MissingFieldError(DataError):
    """A component needs a bar field (open, high, volume, ...) the data set lacks."""


def interrupted_inside(exc: BaseException) -> bool:
    """Whether a KeyboardInterrupt is in ``exc``'s chain: OmegaConf turns one raised inside it into a config error."""
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        if isinstance(link, KeyboardInterrupt):
            return True
        seen.add(id(link))
        link = link.__cause__ or link.__context__
    return False
