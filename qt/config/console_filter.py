"""The console shows qt's own messages: client libraries' records go to run.log only.

ib_async logs each failed connect ("API connection failed", "Make sure API port on TWS/IBG is
open") and every gateway notice at ERROR; qt says what went wrong in one line of its own, so
these would be a second, rawer account on the console. They stay in run.log, complete.
"""

from __future__ import annotations

import logging

LIBRARIES = ("ib_async",)  # loggers whose records stay off the console (below CRITICAL)


class LibraryNoiseFilter(logging.Filter):
    """Drops records of ``LIBRARIES`` below CRITICAL (used by the console handler of conf/hydra/job_logging).

    Examples
    --------
    >>> f = LibraryNoiseFilter()
    >>> f.filter(logging.LogRecord("ib_async.client", logging.ERROR, "", 0, "API connection failed", None, None))
    False
    >>> f.filter(logging.LogRecord("qt.live", logging.ERROR, "", 0, "no IB gateway", None, None))
    True
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """False for a library's record below CRITICAL."""
        name = record.name
        noisy = any(name == lib or name.startswith(lib + ".") for lib in LIBRARIES)
        return not noisy or record.levelno >= logging.CRITICAL
