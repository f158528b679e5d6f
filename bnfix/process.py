"""Files through the engine: read, check or fix, and (for `apply`) write back; in parallel for many files."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Sequence

from bnfix.diagnostics import Diagnostic, SourceError, SourceResult
from bnfix.worker_memory import release_if_grown, tune_collector
from bnfix.cache import CachedOutcome, ResultCache, content_hash
from bnfix.sources.files import ReadError, SourceText, decode_source, read_bytes, write_atomic
from bnfix.rules import enabled_codes, might_apply
from bnfix.fixes.safety import FixSafety
from bnfix.settings import Settings

if TYPE_CHECKING:
    from bnfix.engine import EditorDocument
    from bnfix.sources.notebooks import NotebookMap

NOTEBOOK_SUFFIX = ".ipynb"
# libcst needs about 600 bytes of memory per byte of source (a 5 MB module: ~3 GB and ~20 s just to parse, minutes
# with the rules), so larger code is reported instead of parsed. `--max-file-size` moves the limit.
DEFAULT_MAX_CODE_MB = 2.0

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
    # Notebooks: `original`/`source` are the .ipynb text, while diagnostic and error lines are lines of the module
    # the code cells were joined into; this map turns them into cells (for people) and file lines (for CI).
    notebook: NotebookMap | None = None

    @property
    def changed(self) -> bool:
        return self.error is None and self.source != self.original

    def location(self, line: int, column: int) -> str:
        """`path:line:col`, or ruff's `path:cell N:line:col` for a notebook."""
        if self.notebook is None:
            return f"{self.path}:{line}:{column}"
        cell, cell_line = self.notebook.cell_location(line)
        return f"{self.path}:cell {cell}:{cell_line}:{column}"

    def cell(self, line: int) -> int | None:
        return None if self.notebook is None else self.notebook.cell_location(line)[0]

    def file_line(self, line: int) -> int:
        """The line of the file itself (for a notebook: the JSON line holding that source line)."""
        return line if self.notebook is None else self.notebook.file_line(line)


def analyse(source: str, settings: Settings, fix: bool, propose: bool = False, document: EditorDocument | None = None) -> SourceResult:
    """Check or fix; with `propose`, check but also compute what `apply` would write (SARIF carries it as fixes).

    `document`: an editor's, kept between its versions (`engine.EditorDocument`).
    """
    if not might_apply(source, enabled_codes(settings)):
        return SourceResult(source, source)  # names no rule looks for: nothing to parse
    # The engine (libcst, the rules) is imported by the first file the prefilter lets through: a run whose files are
    # all cached, or all left out, never pays for it.
    from bnfix.engine import check_source, fix_source

    try:
        if fix:
            return fix_source(source, settings, document)
        checked = check_source(source, settings, document)
        if propose and any(_would_apply(d, settings) for d in checked.diagnostics):
            return SourceResult(source, fix_source(source, settings, document).source, checked.diagnostics)
        return checked
    except RecursionError:  # a tree that parses but is too deep for the rules' visitors (e.g. 300 unary minuses)
        raise SourceError("cannot check: the code is nested too deeply for bnfix's analysis") from None


def _would_apply(diagnostic: Diagnostic, settings: Settings) -> bool:
    return diagnostic.fix_safety is FixSafety.SAFE or (diagnostic.fix_safety is FixSafety.UNSAFE and settings.unsafe_fixes)


def process_text(
    path: Path, text: SourceText, settings: Settings, fix: bool, propose: bool = False, max_code_mb: float = DEFAULT_MAX_CODE_MB
) -> FileResult:
    """Check or fix one decoded source (a module, or a notebook's JSON when `path` ends in .ipynb)."""
    if path.suffix == NOTEBOOK_SUFFIX:
        return _process_notebook(path, text, settings, fix, propose, max_code_mb)
    if _too_large(text.text, max_code_mb) and might_apply(text.text, enabled_codes(settings)):
        return FileResult(path, text.text, text.text, error=_too_large_error(text.text, max_code_mb), text=text)
    try:
        result = analyse(text.text, settings, fix, propose)
    except SourceError as error:
        return FileResult(path, text.text, text.text, error=FileError(error.message, error.line, error.column), text=text)
    return FileResult(path, result.original, result.source, result.diagnostics, result.fixed, text=text)


def _too_large(code: str, max_code_mb: float) -> bool:
    return len(code) > max_code_mb * 1_000_000


def _too_large_error(code: str, max_code_mb: float) -> FileError:
    return FileError(
        f"not checked: {len(code) / 1_000_000:.1f} MB of code is over the {max_code_mb:g} MB limit "
        "(parsing needs ~600x that in memory); raise it with --max-file-size or exclude the file"
    )


def _process_notebook(path: Path, text: SourceText, settings: Settings, fix: bool, propose: bool, max_code_mb: float) -> FileResult:
    raw = text.text
    # Rule names appear unescaped in the JSON, so the text prefilter works before nbformat is even imported.
    if not might_apply(raw, enabled_codes(settings)):
        return FileResult(path, raw, raw, text=text)
    from bnfix.sources.notebooks import NotebookError, join_cells, read_notebook, split_module, write_notebook

    try:
        notebook = read_notebook(raw)
    except NotebookError as error:
        return FileResult(path, raw, raw, error=FileError(str(error)), text=text)
    if not notebook.is_python or not notebook.cells:
        return FileResult(path, raw, raw, text=text)
    joined = join_cells(notebook)
    if _too_large(joined.module, max_code_mb):  # only the code counts: outputs may be megabytes of images
        return FileResult(path, raw, raw, error=_too_large_error(joined.module, max_code_mb), text=text)
    try:
        result = analyse(joined.module, settings, fix, propose)
        new_raw = write_notebook(notebook, split_module(result.source, joined)) if result.changed else raw
    except SourceError as error:
        failure = FileError(error.message, error.line, error.column)
        return FileResult(path, raw, raw, error=failure, text=text, notebook=joined.map)
    except NotebookError as error:
        return FileResult(path, raw, raw, error=FileError(str(error)), text=text)
    diagnostics, fixed = ([replace(d, message=joined.map.in_cells(d.message)) for d in found] for found in (result.diagnostics, result.fixed))
    return FileResult(path, raw, new_raw, diagnostics, fixed, text=text, notebook=joined.map)


def process_file(
    path: Path, settings: Settings, fix: bool, propose: bool = False, max_code_mb: float = DEFAULT_MAX_CODE_MB
) -> FileResult:
    return _process_hashed(path, settings, fix, propose, max_code_mb)[1]


def _process_hashed(path: Path, settings: Settings, fix: bool, propose: bool, max_code_mb: float) -> tuple[str | None, FileResult]:
    """The result, and the hash of the very bytes it was computed from (None if they could not be read)."""
    try:
        data = read_bytes(path)
    except ReadError as error:
        return None, FileResult(path, error=FileError(f"cannot read: {error}"))
    try:
        text = decode_source(data)
    except ReadError as error:  # undecodable bytes stay undecodable: this result can be cached too
        return content_hash(data), FileResult(path, error=FileError(f"cannot read: {error}"))
    return content_hash(data), process_text(path, text, settings, fix, propose, max_code_mb)


def process_files(
    paths: Sequence[Path],
    settings: Settings,
    fix: bool,
    jobs: int | None = None,
    propose: bool = False,
    max_code_mb: float = DEFAULT_MAX_CODE_MB,
    on_done: Callable[[int], None] | None = None,
    use_cache: bool = False,
) -> Iterator[FileResult]:
    """Results in the order of `paths`, whatever the order the workers finish in.

    `on_done(n)` is told as soon as n more files are finished, in the order they finish (a progress bar moves from
    the first file, not from the first file in path order); from a worker-pool thread when run in parallel.

    With `use_cache`, a file whose bytes and run are unchanged since a cached result is not processed again;
    only the others go to the workers (and with nothing changed, no worker starts at all).
    """
    tune_collector()  # before the pool forks: its workers inherit it
    done = on_done or (lambda n: None)
    options = (settings, fix, propose, max_code_mb)
    if not use_cache:
        for _, result in _process_all(paths, options, jobs, done):
            yield result
        return
    cache = ResultCache.for_run(settings, ("apply" if fix else "propose" if propose else "check", max_code_mb))
    cached = {index: result for index, path in enumerate(paths) if (result := _cached_result(cache, path)) is not None}
    done(len(cached))
    missing = [path for index, path in enumerate(paths) if index not in cached]
    computed = _process_all(missing, options, jobs, done)
    for index, path in enumerate(paths):
        if index in cached:
            yield cached[index]
            continue
        digest, result = next(computed)
        if digest is not None:
            cache.store(path, digest, _outcome(result))
        yield result


def _process_all(
    paths: Sequence[Path], options: tuple, jobs: int | None, done: Callable[[int], None]
) -> Iterator[tuple[str | None, FileResult]]:
    workers = jobs if jobs is not None else (os.cpu_count() or 1)
    if workers <= 1 or len(paths) < PARALLEL_THRESHOLD:
        for path in paths:
            hashed = _process_hashed(path, *options)
            done(1)
            yield hashed
        return
    from concurrent.futures import ProcessPoolExecutor  # an editor's one-file run does not need it

    # A module this large needs ~100 MB or more to parse; parsed in a worker while the other workers each hold their
    # own ~55 MB, it took the process tree over 250 MB. So such files wait until the pool has ended and are then done
    # in this process (keras: one file of 209 KB that passes the prefilter; ~1 s more wall, no more CPU).
    large = {index for index, path in enumerate(paths) if _file_size(path) >= LARGE_FILE_BYTES}
    pooled = [path for index, path in enumerate(paths) if index not in large]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        # Small chunks keep both workers busy to the end: files that need parsing are few and unevenly spread
        # (bench/: 32 chunks a worker took `check` from 5.8 s to 5.4 s on 3,000 files).
        size = max(1, len(pooled) // (workers * 32))
        chunks = [list(pooled[start : start + size]) for start in range(0, len(pooled), size)]
        futures = [pool.submit(_process_chunk, chunk, options) for chunk in chunks]
        for future, chunk in zip(futures, chunks):
            future.add_done_callback(lambda _, n=len(chunk): done(n))
        results = (hashed for future in futures for hashed in future.result())
        first_large = min(large, default=len(paths))
        for _ in range(first_large):
            yield next(results)
        rest = list(results)  # the pool's work must be finished before a large file is parsed here
    remaining = iter(rest)
    for index in range(first_large, len(paths)):
        if index in large:
            hashed = _process_hashed(paths[index], *options)
            done(1)
            yield hashed
        else:
            yield next(remaining)


LARGE_FILE_BYTES = 150_000


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # reported by the worker that fails to read it


def _process_chunk(paths: list[Path], options: tuple) -> list[tuple[str | None, FileResult]]:
    results = []
    for path in paths:
        results.append(_process_hashed(path, *options))
        release_if_grown()
    return results


def _cached_result(cache: ResultCache, path: Path) -> FileResult | None:
    try:
        data = read_bytes(path)
    except ReadError:
        return None  # processed as usual, which reports it
    outcome = cache.load(path, data)
    if outcome is None:
        return None
    error = FileError(*outcome.error) if outcome.error is not None else None
    try:
        text = decode_source(data)
    except ReadError:
        return FileResult(path, error=error) if error is not None else None
    source = text.text if outcome.source is None else outcome.source
    return FileResult(path, text.text, source, outcome.diagnostics, outcome.fixed, error, text, outcome.notebook)


def _outcome(result: FileResult) -> CachedOutcome:
    error = (result.error.message, result.error.line, result.error.column) if result.error is not None else None
    source = result.source if result.source != result.original else None
    return CachedOutcome(source, result.diagnostics, result.fixed, error, result.notebook)


def write_result(result: FileResult) -> None:
    """Write a changed file back atomically, in its own encoding, BOM and line endings."""
    if not result.changed or result.text is None:
        return
    write_atomic(result.path, result.text.encode(result.source))
