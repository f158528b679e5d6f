"""Leaving the process without tearing the interpreter down, as mypy's `hard_exit` does.

A check of one small file from an editor costs about 0.3 s, and a normal exit adds 0.05-0.1 s to it: the
interpreter frees every module, class and node it built (libcst's alone are thousands of classes). Nothing bnfix
needs happens in that teardown once the streams are flushed and the exit handlers have run, so the command line
skips it, but only when nothing else could be lost: no other thread still running and no child process alive.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading


def exit_code(status: object) -> int:
    """What the interpreter would make of `SystemExit(status)`: None is 0, a number is itself, anything else is
    printed to stderr and is 1."""
    if status is None:
        return 0
    if isinstance(status, int):
        return status
    print(status, file=sys.stderr)
    return 1


def leave(code: int) -> None:
    """End the process with `code`: at once when that is safe, else through the normal exit."""
    if not _nothing_else_running():
        raise SystemExit(code)
    atexit._run_exitfuncs()  # what libraries registered (logging's flush, concurrent.futures' joins) still runs
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe: the normal exit reports it as it always has
        raise SystemExit(code) from None
    os._exit(code)


def _nothing_else_running() -> bool:
    if threading.active_count() > 1:
        return False
    multiprocessing = sys.modules.get("multiprocessing")
    return multiprocessing is None or not multiprocessing.active_children()
