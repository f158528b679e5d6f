"""Cache priming, as rust-analyzer has it (`cachePriming.enable`): the workspace's saved files are checked once in
the background when the server starts, so that opening one shows its findings at once.

A first check of a text bnfix has not seen costs libcst's parse of it and a third more (bench/README.md, "Language
server": 1.3-1.5x the parse on a 5,000-line module), and no libcst-based tool can answer before it has parsed. A
file that is saved need not wait: the project's result cache, which `bnfix check` and the server share (keyed by
the file's bytes and the settings), is filled here for every Python file of the workspace's projects, in a child
process at the lowest CPU priority, one file at a time, so that the editor's own analysis worker keeps its core and
takes the other when it needs it. Only projects are primed (a `pyproject.toml` with `[tool.bnfix]`): outside one
there is no cache to share, and the server creates none. The most recently modified files come first (the ones
likely to be opened next). The child prints `done total` lines, which the server turns into a progress report.

    python -m bnfix.server.cache_priming SERVER_PID SETTINGS_JSON FOLDER...
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Callable, Iterable

from bnfix.server.client_settings import CACHE_PRIMING, ClientSettingsError, parse_client_settings
from bnfix.server.parent_watch import exit_with_parent
from bnfix.settings import Settings


def prime(folders: Iterable[Path], overrides: dict[str, Any], report: Callable[[int, int], None]) -> None:
    """Check every Python file of the projects under `folders` with the settings the server would use for it,
    storing each result in its project's cache; `report(done, total)` after each file."""
    from bnfix.process import process_files

    groups = _by_settings(folders, overrides)
    total = sum(len(paths) for _, paths in groups)
    done = 0
    report(done, total)
    for settings, paths in groups:
        for _ in process_files(paths, settings, fix=False, jobs=1, use_cache=True):
            done += 1
            report(done, total)


def _by_settings(folders: Iterable[Path], overrides: dict[str, Any]) -> list[tuple[Settings, list[Path]]]:
    """The folders' Python files, walked as `bnfix check FOLDER` walks them (each project's `exclude`, .gitignore),
    grouped by the settings each file gets (its nearest project's, then the client's), newest file first; files
    outside any project, or in one whose configuration is broken, are left out."""
    from bnfix.config import ConfigError, SettingsByFile, group_by_settings
    from bnfix.sources.files import discover

    settings_of = SettingsByFile(overrides)

    def exclude_at(directory: Path) -> tuple[Path | None, tuple[str, ...]]:
        try:
            return settings_of.exclude_at(directory)
        except ConfigError:  # its files are left out below; the walk goes on
            return None, ()

    def primed_with(path: Path) -> Settings | None:
        try:
            settings = settings_of(path)
        except ConfigError:
            return None
        return settings if settings.cache_dir is not None else None

    found: list[tuple[float, Path]] = []
    for path in discover(folders, suffixes=(".py",), exclude_at=exclude_at):
        try:
            found.append((path.stat().st_mtime, path))
        except OSError:
            continue
    found.sort(key=lambda item: -item[0])
    # Newest first within each group, and the group holding the newest file first.
    return [(settings, [found[index][1] for index in indexes]) for settings, indexes in group_by_settings([path for _, path in found], primed_with)]


class PrimingRun:
    """The server's side: one priming child, its `done total` lines handed to `on_progress`, stopped on demand.

    The child runs in a session of its own, so that stopping it (settings changed, shutdown) also stops any process
    it started; a server that dies without a shutdown is noticed by the child itself (`main`).
    """

    def __init__(self, folders: list[Path], raw_settings: Any, on_progress: Callable[[int, int], None] = lambda done, total: None) -> None:
        self.folders = folders
        self.raw_settings = raw_settings
        self.on_progress = on_progress
        self.process: Any = None  # asyncio.subprocess.Process, once started
        self.stopped = False

    async def run(self) -> int | None:
        """Prime to the end (or until stopped); the child's exit status, None if it never started."""
        import asyncio
        import subprocess

        arguments = [str(os.getpid()), json.dumps(self.raw_settings), *map(str, self.folders)]
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", __name__, *arguments,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        if self.stopped:  # stopped while starting
            self._kill()
        assert self.process.stdout is not None
        async for line in self.process.stdout:
            done, _, total = line.decode("ascii", "replace").partition(" ")
            if done.isdigit() and total.strip().isdigit():
                self.on_progress(int(done), int(total))
        return await self.process.wait()

    def stop(self) -> None:
        self.stopped = True
        if self.process is not None and self.process.returncode is None:
            self._kill()

    def _kill(self) -> None:
        import signal

        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError, AttributeError):  # gone already; no process groups (Windows)
            try:
                self.process.terminate()
            except ProcessLookupError:
                pass


def lower_priority() -> None:
    """The lowest CPU priority this platform offers a process to give itself (nice 19 on POSIX)."""
    if hasattr(os, "nice"):
        try:
            os.nice(19 - os.nice(0))
        except OSError:
            pass


def main(argv: list[str]) -> int:
    if len(argv) < 2 or not argv[0].isdigit():
        sys.stderr.write(__doc__ or "")
        return 2
    exit_with_parent(int(argv[0]))  # a server killed without a shutdown cannot stop this child
    lower_priority()
    try:
        overrides = parse_client_settings(json.loads(argv[1]))
    except (ValueError, ClientSettingsError) as error:  # the server validated them: a caller's mistake
        sys.stderr.write(f"bnfix cache priming: {error}\n")
        return 2
    overrides.pop(CACHE_PRIMING, None)

    def report(done: int, total: int) -> None:
        sys.stdout.write(f"{done} {total}\n")
        sys.stdout.flush()

    try:
        prime([Path(folder) for folder in argv[2:]], overrides, report)
    except BrokenPipeError:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
