"""Analysis off the event loop: debounced per document, and stale versions dropped, so typing never waits on bnfix.

The event loop only reads messages and sends results; the engine runs in one worker process. A process, not a
thread: an analysis holds the GIL for seconds on a large file, and a thread would make every message the loop
handles meanwhile wait for its turn; and a crash in the parser (libcst's native code) takes down the worker, which
is restarted, not the server. A new request for a document cancels the one still waiting out its delay; work
already running cannot be interrupted, so its result is checked against the document's version when it comes back
and dropped if stale.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Awaitable, Callable, TypeVar

from bnfix.server.analysis import warm_up

logger = logging.getLogger(__name__)
T = TypeVar("T")

CHANGE_DELAY = 0.15  # seconds of quiet typing before a changed document is re-checked


class WorkerCrashed(Exception):
    """The analysis process died; a new one has been started."""


class Scheduler:
    def __init__(self) -> None:
        self._executor = _start_worker()
        self._pending: dict[str, asyncio.Task] = {}

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """`function(*args)` in the worker process (both must pickle); the event loop keeps serving the editor."""
        executor = self._executor
        try:
            return await asyncio.get_running_loop().run_in_executor(executor, function, *args)
        except BrokenProcessPool:
            if self._executor is executor:  # the first to notice restarts it
                self._executor = _start_worker()
            raise WorkerCrashed("bnfix's analysis process died on this file and was restarted") from None

    def schedule(self, key: str, delay: float, job: Callable[[], Awaitable[None]]) -> None:
        """Run `job` after `delay` seconds unless `key` is scheduled again first (debounce)."""
        previous = self._pending.pop(key, None)
        if previous is not None:
            previous.cancel()
        task = asyncio.ensure_future(self._after(delay, job))
        self._pending[key] = task
        task.add_done_callback(lambda done: self._forget(key, done))

    def pending(self, key: str) -> asyncio.Task | None:
        """The job scheduled or running for `key`, if any."""
        return self._pending.get(key)

    def cancel(self, key: str) -> None:
        task = self._pending.pop(key, None)
        if task is not None:
            task.cancel()

    def shutdown(self) -> None:
        for task in self._pending.values():
            task.cancel()
        self._pending.clear()
        # An analysis under way would hold the exit for seconds: stop the worker (Python 3.14 has terminate_workers).
        for process in list(getattr(self._executor, "_processes", {}).values()):
            process.terminate()
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _after(self, delay: float, job: Callable[[], Awaitable[None]]) -> None:
        if delay > 0:
            await asyncio.sleep(delay)
        await job()

    def _forget(self, key: str, task: asyncio.Task) -> None:
        if self._pending.get(key) is task:
            del self._pending[key]
        if not task.cancelled() and task.exception() is not None:
            logger.error("bnfix analysis failed", exc_info=task.exception())


def _start_worker() -> ProcessPoolExecutor:
    # spawn, not fork: the server has threads (pygls reads stdin in one), and forking a threaded process is unsafe.
    executor = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    executor.submit(warm_up, os.getpid())  # import the engine now, while the editor is still starting, not at the first file
    return executor
