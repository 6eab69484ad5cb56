"""Progress on the terminal: a spinner while a run works, a bar over a sweep's runs; silent when not a TTY."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def _console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


@contextmanager
def phase(description: str, *, enabled: bool = True) -> Iterator[None]:
    """Show ``description`` with a spinner and the elapsed time while the block runs (stderr, TTY only)."""
    console = _console()
    if not enabled or not console.is_terminal:
        yield
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console, transient=True
    ) as bar:
        bar.add_task(description, total=None)
        yield


class SweepProgress:
    """A bar over a sweep's runs: ``start(total)``, ``advance()`` after each, ``stop()``; no-op when not a TTY."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._task: Any = None

    def start(self, total: int | None, description: str = "sweep") -> None:
        """Begin showing the bar (``total`` None: an open-ended count)."""
        console = _console()
        if not console.is_terminal:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._bar = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
        )
        self._bar.start()
        self._task = self._bar.add_task(description, total=total)

    def advance(self) -> None:
        """One more run finished."""
        if self._bar is not None:
            self._bar.advance(self._task)

    def stop(self) -> None:
        """Remove the bar."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
