"""`--watch`: run, then run again whenever a checked file (or the configuration) changes, until Ctrl-C.

The waiting is watchfiles' (inotify, FSEvents or ReadDirectoryChangesW through the Rust `notify` crate): no polling
loop of bnfix's own. Each run is a whole fresh run, configuration included, so editing pyproject.toml takes effect.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Callable

from bnfix.cli_options import RunOptions
from bnfix.cli_run import EXIT_CLEAN, UsageError, error

WATCHED_SUFFIXES = (".py", ".ipynb", ".toml")
WATCHED_NAMES = (".gitignore",)
# Editors save in bursts (a temporary file, a rename, a chmod): one run per burst.
DEBOUNCE_MS = 300
# How long the watcher's wait lasts before it wakes up to look for Ctrl-C (watchfiles' own default is 5 s); the first
# wait is what arms it before the first run.
ARM_TIMEOUT_MS = 500


def is_relevant(path: str) -> bool:
    name = Path(path).name
    return name.endswith(WATCHED_SUFFIXES) or name in WATCHED_NAMES


def watch(options: RunOptions, run_once: Callable[[], int]) -> int:
    try:
        import watchfiles
    except ImportError:
        raise UsageError("--watch needs the watchfiles package: pip install 'bnfix[watch]'") from None
    roots = [path for path in (options.paths or [Path(".")]) if path.exists()]
    if options.config is not None:
        roots.append(options.config)
    if not roots:
        raise UsageError("--watch: none of the given paths exists")
    logging.getLogger("watchfiles").setLevel(logging.ERROR)  # its "KeyboardInterrupt caught" notice on Ctrl-C
    try:
        _announce("Starting bnfix in watch mode...")
        changes = watchfiles.watch(
            *roots,
            watch_filter=lambda _change, path: is_relevant(path),
            debounce=DEBOUNCE_MS,
            rust_timeout=ARM_TIMEOUT_MS,
            yield_on_timeout=True,
            raise_interrupt=False,
        )
        next(changes, None)  # arms the watcher before the first run, so a file saved during that run is not missed
        _run_reporting(run_once)
        for batch in changes:
            if not batch:  # the wait timed out: nothing changed
                continue
            _clear_screen()
            _announce("File change detected...")
            _run_reporting(run_once)
    except KeyboardInterrupt:
        pass
    return EXIT_CLEAN


def _run_reporting(run_once: Callable[[], int]) -> None:
    """A run that fails (say, pyproject.toml saved half-edited) is reported; the watch goes on."""
    try:
        run_once()
    except UsageError as problem:
        error(str(problem))
    _announce("Watching for file changes.")


def _announce(message: str) -> None:
    sys.stderr.write(f"[{time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


def _clear_screen() -> None:
    if sys.stdout.isatty():
        sys.stdout.write("\x1b[2J\x1b[H")
    sys.stdout.flush()
