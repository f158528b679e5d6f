"""The engine's results for a target, placed back in the editor's documents; and the texts its fixes produce.

Positions here are 0-based lines and characters counted in code points, as the engine counts them; the server
converts them to the client's position encoding (UTF-16 unless it asked otherwise) when it sends them.
"""

from __future__ import annotations

import logging
import traceback
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bnfix.cache import CachedOutcome, ResultCache, content_hash
from bnfix.diagnostics import Diagnostic, SourceError
from bnfix.engine import EditorDocument, fix_one
from bnfix.process import DEFAULT_MAX_CODE_MB, analyse
from bnfix.rules import enabled_codes, might_apply
from bnfix.server.client_settings import settings_for
from bnfix.server.parent_watch import exit_with_parent
from bnfix.server.targets import DocumentTarget, Target
from bnfix.settings import Settings
from bnfix.sources.notebooks import NotebookError
from bnfix.worker_memory import tune_collector

logger = logging.getLogger(__name__)
Place = tuple[int, int]  # (line, character), both 0-based
# The worker keeps its recently analysed documents (parsed statements, last check) for their next version and fixes.
DOCUMENTS_KEPT = 16
_documents: OrderedDict[str, EditorDocument] = OrderedDict()


class FixError(Exception):
    """A fix could not be turned into edits (it produced invalid code, or crossed a notebook cell boundary)."""


@dataclass(frozen=True)
class Finding:
    uri: str
    start: Place
    end: Place
    message: str  # for a notebook, other lines are cited as cells
    diagnostic: Diagnostic  # the engine's, in module positions: what `fix_one` is given back


@dataclass(frozen=True)
class Problem:
    """Why a target could not be analysed at all (it does not parse, it is too large): one diagnostic, no findings."""

    uri: str
    start: Place
    end: Place
    message: str


@dataclass(frozen=True)
class Analysis:
    target: Target
    settings: Settings
    findings: tuple[Finding, ...] = ()
    problem: Problem | None = None
    from_cache: bool = False  # read from the project's result cache: the document is not parsed yet


def warm_up(server: int) -> None:
    """Run in a new worker process: unpickling this function has imported the engine; the collector is set for it,
    and the worker ends with the server, even one killed without a shutdown."""
    tune_collector()
    exit_with_parent(server)


def analyse_with_client_settings(target: Target, overrides: dict[str, Any], use_cache: bool = False) -> tuple[Analysis, str | None]:
    """In the worker: settings for the target's file, then its analysis; and the pyproject error, if any.

    With `use_cache` (a file opened or saved), a result `bnfix check` or this server stored for exactly this text
    and these settings is used as it is, and a new result is stored; edits in between touch no file. An engine bug
    is one diagnostic and a log entry, never a dead server.
    """
    settings, config_error = settings_for(target.path, overrides)
    try:
        return analyse_target(target, settings, use_cache), config_error
    except Exception as error:  # noqa: BLE001 - whatever the engine raises, the editor keeps its server
        logger.error("bnfix failed on %s:\n%s", target.uri, traceback.format_exc())
        uri = next(iter(target.texts), target.uri)
        problem = Problem(uri, (0, 0), (0, 0), f"internal error in bnfix: {type(error).__name__}: {error}")
        return Analysis(target, settings, problem=problem), config_error


def analyse_target(target: Target, settings: Settings, use_cache: bool = False) -> Analysis:
    results = ProjectResults.of(target, settings) if use_cache else None
    if results is not None:
        outcome = results.load()
        if outcome is not None:
            return _analysis_of(target, settings, outcome.diagnostics, outcome.error, from_cache=True)
    module = target.module
    if len(module) > DEFAULT_MAX_CODE_MB * 1_000_000 and might_apply(module, enabled_codes(settings)):
        message = f"not checked: {len(module) / 1_000_000:.1f} MB of code is over bnfix's {DEFAULT_MAX_CODE_MB:g} MB limit"
        diagnostics, error = [], (message, 1, 1)
    else:
        try:
            diagnostics, error = analyse(module, settings, fix=False, document=document_of(target)).diagnostics, None
        except SourceError as problem:
            diagnostics, error = [], (problem.message, problem.line, problem.column)
    if results is not None:
        results.store(diagnostics, error)
    return _analysis_of(target, settings, diagnostics, error)


def _analysis_of(target: Target, settings: Settings, diagnostics: list[Diagnostic], error: tuple[str, int, int] | None, from_cache: bool = False) -> Analysis:
    if error is not None:
        return Analysis(target, settings, problem=_problem(target, error[1], error[2], error[0]), from_cache=from_cache)
    return Analysis(target, settings, tuple(_place(target, d) for d in diagnostics), from_cache=from_cache)


@dataclass(frozen=True)
class ProjectResults:
    """The project's result cache (`.bnfix_cache` beside its pyproject.toml, or `cache-dir`), for one saved file:
    what `bnfix check` stored for its text is what the server shows on open or save, and what the server finds
    then is stored for the next check or open. Only a project's: a file outside any configured project has no
    cache to share, and the server creates none in whatever directory the editor started it."""

    cache: ResultCache
    path: Path
    data: bytes

    @classmethod
    def of(cls, target: Target, settings: Settings) -> "ProjectResults | None":
        if not isinstance(target, DocumentTarget) or target.path is None or settings.cache_dir is None:
            return None
        data = target.text.encode("utf-8", "surrogateescape")  # the file's bytes, when it is saved as UTF-8
        return cls(ResultCache.for_run(settings, ("check", DEFAULT_MAX_CODE_MB)), target.path, data)

    def load(self) -> CachedOutcome | None:
        outcome = self.cache.load(self.path, self.data)
        return outcome if outcome is not None and outcome.notebook is None else None

    def store(self, diagnostics: list[Diagnostic], error: tuple[str, int, int] | None) -> None:
        self.cache.store(self.path, content_hash(self.data), CachedOutcome(None, diagnostics, [], error, None))


def fix_all(target: Target, settings: Settings) -> dict[str, str]:
    """The new text of every document `bnfix apply` would change, with the same settings (so, same unsafe fixes)."""
    try:
        repaired = analyse(target.module, settings, fix=True, document=document_of(target)).source
    except SourceError as error:
        raise FixError(error.message) from None
    return _changed_texts(target, repaired)


def fix_finding(target: Target, settings: Settings, finding: Finding) -> dict[str, str]:
    """The new text of every document that this one finding's fix changes (empty when it has no fix)."""
    d = finding.diagnostic
    try:
        repaired = fix_one(target.module, settings, d.code, d.line, d.column, document_of(target))
    except SourceError as error:
        raise FixError(error.message) from None
    return {} if repaired is None else _changed_texts(target, repaired)


def document_of(target: Target) -> EditorDocument:
    """What this worker keeps of the target's document (the least recently used of too many is dropped)."""
    document = _documents.pop(target.uri, None) or EditorDocument()
    _documents[target.uri] = document
    while len(_documents) > DOCUMENTS_KEPT:
        _documents.popitem(last=False)
    return document


def _changed_texts(target: Target, repaired: str) -> dict[str, str]:
    if repaired == target.module:
        return {}
    try:
        texts = target.split(repaired)
    except NotebookError as error:
        raise FixError(str(error)) from None
    return {uri: text for uri, text in texts.items() if text != target.texts[uri]}


def _place(target: Target, d: Diagnostic) -> Finding:
    uri, line = target.locate(d.line)
    end_uri, end_line = target.locate(d.end_line)
    start = (line - 1, d.column - 1)
    end = (end_line - 1, d.end_column - 1) if end_uri == uri else _end_of_line(target.lines(uri), line - 1)
    return Finding(uri, start, end, target.in_documents(d.message), d)


def _problem(target: Target, module_line: int, column: int, message: str) -> Problem:
    uri, line = target.locate(module_line)
    start = (line - 1, max(column - 1, 0))
    end = _end_of_line(target.lines(uri), line - 1)
    return Problem(uri, start, max(start, end), target.in_documents(message))


def _end_of_line(lines: list[str], line: int) -> Place:
    if line >= len(lines):
        return (line, 0)
    return (line, len(lines[line].rstrip("\r\n")))
