"""A rich progress bar that stays silent when asked to."""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


@contextlib.contextmanager
def progress(description: str, total: int, quiet: bool = False, completed: int = 0,
             unit: str = "") -> Iterator[Callable[[int], None]]:
    """Yield ``advance(n=1)``; draws a bar with elapsed time and ETA unless ``quiet``; ``completed``
    work (e.g. resumed) counts from the start."""
    if quiet:
        yield lambda n=1: None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn(unit),
               TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task(description, total=total, completed=completed)
        yield lambda n=1: bar.advance(task, n)
