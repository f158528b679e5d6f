"""`--watch`: run, then run again whenever a checked file (or the configuration) changes, until Ctrl-C.

The waiting is watchfiles' (inotify, FSEvents or ReadDirectoryChangesW through the Rust `notify` crate): no polling
loop of bnfix's own. Each run is a whole fresh run, configuration included, so editing pyproject.toml takes effect.
The configuration usually lives above the watched paths (`bnfix check --watch src/` configured by the project's
pyproject.toml), so the files a run reads its settings from are watched too, as ruff's watch mode does.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Callable

from bnfix.cli_options import RunOptions
from bnfix.cli_run import EXIT_CLEAN, UsageError, error
from bnfix.config import ConfigError, find_pyproject

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


def config_files(options: RunOptions) -> list[Path]:
    """The files the settings come from, or would once edited: `--config`, else each pyproject.toml from the first
    path's directory upwards to the nearest with a [tool.bnfix] table (the one load_settings reads); the ones on the
    way may gain a table. With none (or a broken one, which might be the one), every pyproject.toml up to the root."""
    if options.config is not None:
        return [options.config.resolve()]
    start = (options.paths or [Path(".")])[0]
    start = (start if start.exists() else Path.cwd()).resolve()
    directory = start if start.is_dir() else start.parent
    try:
        applying = find_pyproject(directory)
    except ConfigError:
        applying = None
    found = []
    for candidate in (folder / "pyproject.toml" for folder in (directory, *directory.parents)):
        if candidate.is_file():
            found.append(candidate)
            if candidate == applying:
                break
    return found


def watch(options: RunOptions, run_once: Callable[[], int]) -> int:
    try:
        import watchfiles
    except ImportError:
        raise UsageError("--watch needs the watchfiles package: pip install 'bnfix[watch]'") from None
    roots = [path for path in (options.paths or [Path(".")]) if path.exists()]
    if not roots:
        raise UsageError("--watch: none of the given paths exists")
    logging.getLogger("watchfiles").setLevel(logging.ERROR)  # its "KeyboardInterrupt caught" notice on Ctrl-C
    try:
        _announce("Starting bnfix in watch mode...")
        configs = config_files(options)
        changes = _armed(watchfiles, roots, configs)  # before the first run, so a file saved during it is not missed
        _run_reporting(run_once)
        while (batch := next(changes, None)) is not None:  # None: the watcher stopped (Ctrl-C)
            if not batch:  # the wait timed out: nothing changed
                continue
            _clear_screen()
            _announce("File change detected...")
            now = config_files(options)
            if now != configs or any(Path(path).resolve() in _outside(configs, roots) for _change, path in batch):
                # Editors save by writing a new file and renaming it over the old one, which ends a watch on the
                # file itself; and another pyproject.toml may now apply. Watch the configuration as it is now.
                changes.close()
                configs = now
                changes = _armed(watchfiles, roots, configs)
            _run_reporting(run_once)
    except KeyboardInterrupt:
        pass
    return EXIT_CLEAN


def _outside(configs: list[Path], roots: list[Path]) -> list[Path]:
    """The configuration files the roots' own (recursive) watch does not cover."""
    resolved = [root.resolve() for root in roots]
    return [config for config in configs if config.exists() and not any(config.is_relative_to(r) for r in resolved)]


def _armed(watchfiles, roots: list[Path], configs: list[Path]):
    """A watcher of the roots (recursively) and of the configuration files, already waiting for changes."""
    watched = set(configs)  # a --config file may have any name
    changes = watchfiles.watch(
        *roots,
        *_outside(configs, roots),
        watch_filter=lambda _change, path: is_relevant(path) or Path(path).resolve() in watched,
        debounce=DEBOUNCE_MS,
        rust_timeout=ARM_TIMEOUT_MS,
        yield_on_timeout=True,
        raise_interrupt=False,
    )
    next(changes, None)  # the first wait is what starts the watcher
    return changes


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
