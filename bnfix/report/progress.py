"""A progress bar on stderr for long runs, only when stderr is a terminal: CI logs, pipes and editors see nothing.

rich is imported only when a bar is really drawn, so short runs and IDE calls do not pay for it.
"""

from __future__ import annotations

import sys
from typing import Iterable, Iterator, TypeVar

# Below this many files a run takes about a second: a bar would only flash.
MIN_FILES_FOR_BAR = 50

T = TypeVar("T")


def should_show(total: int, enabled: bool = True, stream=None) -> bool:
    stream = stream if stream is not None else sys.stderr
    return enabled and total >= MIN_FILES_FOR_BAR and _is_terminal(stream)


def with_progress(items: Iterable[T], total: int, description: str, enabled: bool = True) -> Iterator[T]:
    """Yield `items` unchanged, advancing a transient bar (cleared when done, so the report prints cleanly)."""
    if not should_show(total, enabled):
        yield from items
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(file=sys.stderr)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(description, total=total)
        for item in items:
            yield item
            progress.advance(task)


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
