"""Files through the engine: read, check or fix, and (for `apply`) write back; in parallel for many files."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

from bnfix.engine import Diagnostic, SourceError, SourceResult, check_source, fix_source
from bnfix.files import ReadError, SourceText, read_source, write_atomic
from bnfix.settings import Settings

# Below this many files a process pool costs more than it saves.
PARALLEL_THRESHOLD = 24


@dataclass
class FileError:
    message: str
    line: int = 1
    column: int = 1


@dataclass
class FileResult:
    path: Path
    original: str = ""
    source: str = ""
    diagnostics: list[Diagnostic] = field(default_factory=list)
    fixed: list[Diagnostic] = field(default_factory=list)
    error: FileError | None = None
    text: SourceText | None = None  # how to encode `source` back to bytes

    @property
    def changed(self) -> bool:
        return self.error is None and self.source != self.original


def process_text(path: Path, text: SourceText, settings: Settings, fix: bool) -> FileResult:
    """Check or fix one decoded source."""
    try:
        result: SourceResult = fix_source(text.text, settings) if fix else check_source(text.text, settings)
    except SourceError as error:
        return FileResult(path, text.text, text.text, error=FileError(error.message, error.line, error.column), text=text)
    return FileResult(path, result.original, result.source, result.diagnostics, result.fixed, text=text)


def process_file(path: Path, settings: Settings, fix: bool) -> FileResult:
    try:
        text = read_source(path)
    except ReadError as error:
        return FileResult(path, error=FileError(f"cannot read: {error}"))
    return process_text(path, text, settings, fix)


def process_files(
    paths: Sequence[Path], settings: Settings, fix: bool, jobs: int | None = None
) -> Iterator[FileResult]:
    """Results in the order of `paths`, whatever the order the workers finish in."""
    workers = jobs if jobs is not None else (os.cpu_count() or 1)
    if workers <= 1 or len(paths) < PARALLEL_THRESHOLD:
        for path in paths:
            yield process_file(path, settings, fix)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        chunk = max(1, len(paths) // (workers * 8))
        yield from pool.map(_process_for_pool, paths, [settings] * len(paths), [fix] * len(paths), chunksize=chunk)


def _process_for_pool(path: Path, settings: Settings, fix: bool) -> FileResult:
    return process_file(path, settings, fix)


def write_result(result: FileResult) -> None:
    """Write a changed file back atomically, in its own encoding, BOM and line endings."""
    if not result.changed or result.text is None:
        return
    write_atomic(result.path, result.text.encode(result.source))
