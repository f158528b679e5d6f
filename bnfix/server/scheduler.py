"""Analysis off the event loop: debounced per document, and stale versions dropped, so typing never waits on bnfix.

The event loop only reads messages and sends results; the engine runs in one worker thread. A new request for a
document cancels the one still waiting out its delay; work already running cannot be interrupted (it is plain
Python), so its result is checked against the document's version when it comes back and dropped if stale.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Awaitable, Callable, TypeVar

logger = logging.getLogger(__name__)
T = TypeVar("T")

CHANGE_DELAY = 0.15  # seconds of quiet typing before a changed document is re-checked


class Scheduler:
    def __init__(self) -> None:
        # One worker: analyses hold the GIL anyway, and a queue of one keeps stale work from piling up.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bnfix-analysis")
        self._pending: dict[str, asyncio.Task] = {}

    async def run(self, work: Callable[[], T]) -> T:
        """`work()` in the worker thread; the event loop keeps serving the editor meanwhile."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, work)

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
