"""Progress on the terminal: a bar over a run's bars, a spinner, a bar over a sweep's runs; silent when not a TTY.

A backtest and a live replay know their number of bars (a bar with rate and time left); a live run
on a real-time feed does not (a count with its rate).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

BarProgress = Callable[[int, int | None], None]  # (bars done, total bars or None), called on every bar
STEPS = 200  # the bar is redrawn at most this many times over a run (plus at the end)


def _console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


class _Throttled:
    """The per-bar callback: one integer comparison per bar, a rich update every ``total / STEPS`` bars."""

    __slots__ = ("_bar", "_next", "_step", "_task", "total")

    def __init__(self, bar: Any, task: Any) -> None:
        self._bar, self._task = bar, task
        self.total: int | None = 0
        self._step, self._next = 1, 0

    def __call__(self, done: int, total: int | None) -> None:
        if done < self._next:
            return
        if total != self.total:  # the first call (or a new total): size the bar (None: open-ended, every bar)
            self.total, self._step = total, max(1, (total or 0) // STEPS)
            self._bar.update(self._task, total=total)
        self._bar.update(self._task, completed=done)
        self._next = done + self._step


def _rate_column() -> Any:
    """Bars per second over the last few updates (blank until there is a rate)."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    class BarRate(ProgressColumn):
        def render(self, task: Any) -> Text:
            speed = task.finished_speed or task.speed
            return Text("" if speed is None else f"{speed:,.1f} bars/s", style="progress.data.speed")

    return BarRate()


@contextmanager
def bar_progress(
    description: str = "backtest", *, enabled: bool = True, console: Any = None
) -> Iterator[BarProgress | None]:
    """A percentage bar with time left, driven by the engine's per-bar ``progress(done, total)`` callback.

    Yields the callback, or None when disabled or stderr is not a terminal (the engine then
    skips the call entirely). Until the first call it shows ``description`` with a spinner
    (loading data, computing signals); the bar disappears when the block ends.

    Examples
    --------
    >>> with bar_progress(enabled=False) as progress:
    ...     progress is None
    True
    """
    console = console or _console()
    if not enabled or not console.is_terminal:
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        MofNCompleteColumn(),
        TextColumn("bars"),
        _rate_column(),
        TimeElapsedColumn(),
        TextColumn("elapsed,"),
        TimeRemainingColumn(),
        TextColumn("left"),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(description, total=None)
        yield _Throttled(bar, task)


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
