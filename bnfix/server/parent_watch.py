"""A process the server started ends when the server does, however the server ends.

An editor that crashes, or kills its language server, sends no shutdown: the server dies at once, and whatever it
started lives on. Its analysis worker then waited forever for work (found by a test that kills the server: two
such workers were still there minutes later), and since it inherited the server's stdout, the editor's end of that
pipe never closed either. So the worker and the cache-priming child each watch their parent and exit when it is gone.
"""

from __future__ import annotations

import os
import threading
import time

POLL_SECONDS = 0.5


def exit_with_parent(parent: int) -> None:
    """From now on, end this process within POLL_SECONDS of the end of its parent, the process `parent` (given by the
    parent itself: one that died before this process got here has already left it to another)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(POLL_SECONDS)
        os._exit(0)  # nothing to save: a result or a cache entry half written is never read (atomic writes)

    threading.Thread(target=watch, name="bnfix-parent-watch", daemon=True).start()
