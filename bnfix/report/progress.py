"""A progress bar on stderr for long runs, only when stderr is a terminal: CI logs, pipes and editors see nothing.

The bar is advanced by a callback as each file (or each worker's chunk of files) finishes, in whatever order the
workers finish: the report is still printed in path order, but the bar moves from the first file on instead of
waiting for the first file in order. It shows the file count and the rate. rich is imported only when a bar is
really drawn, so short runs and IDE calls do not pay for it.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Callable, Iterator

# Below this many files a run takes about a second: a bar would only flash.
MIN_FILES_FOR_BAR = 50

Advance = Callable[[int], None]


def should_show(total: int, enabled: bool = True, stream=None) -> bool:
    stream = stream if stream is not None else sys.stderr
    return enabled and total >= MIN_FILES_FOR_BAR and _is_terminal(stream)


@contextlib.contextmanager
def progress_bar(total: int, description: str, enabled: bool = True) -> Iterator[Advance]:
    """A transient bar (cleared when done, so the report prints cleanly); yields `advance(files_done)`."""
    if not should_show(total, enabled):
        yield lambda done: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), _rate_column(), TimeRemainingColumn())
    with Progress(*columns, console=Console(file=sys.stderr), transient=True) as progress:
        task = progress.add_task(description, total=total)
        yield lambda done: progress.advance(task, done)


def _rate_column():
    from rich.progress import ProgressColumn
    from rich.text import Text

    class FileRateColumn(ProgressColumn):
        """Files per second, as rich's own columns measure speed (over its recent samples)."""

        def render(self, task) -> Text:
            speed = task.finished_speed or task.speed
            return Text("… files/s" if speed is None else f"{speed:,.0f} files/s", style="progress.data.speed")

    return FileRateColumn()


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
