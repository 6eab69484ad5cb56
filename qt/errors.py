"""qt's exceptions: each message says what is wrong and what to change.

The CLI prints these as one line (no traceback) unless ``--debug`` or ``QT_DEBUG=1``.
"""

from __future__ import annotations


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
