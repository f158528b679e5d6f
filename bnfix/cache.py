"""The result cache, as ruff has one: what a file gave last time, reused while nothing that decides it changed.

An entry holds one file's findings, repairs and error, keyed by everything that decides them: the file's bytes
(SHA-256), the settings that reach a file's result, the Keras versions the rules may target, the mode
(check, apply, SARIF's proposed fixes, the size limit), the Python version (its parser words syntax errors)
and bnfix itself (its version, plus a fingerprint of its own source files, so that a development checkout
never reuses results of code it no longer runs).

Entries are never trusted: each carries a checksum of its body and restates its key, and anything that does
not read back whole and matching is a miss, recomputed and overwritten. Writes go to a temporary file renamed
over the entry, so concurrent runs each see a whole entry or none. The directory (`.bnfix_cache/` at the project
root, or `cache-dir`) holds a `.gitignore` of `*` and a CACHEDIR.TAG, and `bnfix clean` removes it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bnfix import __version__
from bnfix.diagnostics import Diagnostic
from bnfix.fixes.safety import FixSafety
from bnfix.settings import Settings

if TYPE_CHECKING:
    from bnfix.sources.notebooks import NotebookMap

DEFAULT_CACHE_DIR = ".bnfix_cache"
FORMAT = 1
# Settings that decide which files are read, where the cache lives or where reports link to, never what one file's
# result is.
_NOT_IN_KEY = frozenset({"exclude", "cache_dir", "docs_url"})
_CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by bnfix.\n"
    "# For information about cache directory tags see https://bford.info/cachedir/\n"
)


@dataclass(frozen=True)
class CachedOutcome:
    """What processing one file gave: enough to rebuild its result without parsing it."""

    source: str | None  # the repaired text; None when nothing changed
    diagnostics: list[Diagnostic]
    fixed: list[Diagnostic]
    error: tuple[str, int, int] | None  # message, line, column
    notebook: NotebookMap | None


def cache_directory(settings: Settings) -> Path:
    """`cache-dir` as the configuration resolved it, else `.bnfix_cache` in the working directory."""
    return Path(settings.cache_dir) if settings.cache_dir else Path.cwd() / DEFAULT_CACHE_DIR


class ResultCache:
    def __init__(self, directory: Path, run_key: str) -> None:
        self.directory = directory
        self.run_key = run_key
        self._entries = directory / run_key[:20]
        self._prepared = False

    @classmethod
    def for_run(cls, settings: Settings, mode: tuple) -> "ResultCache":
        return cls(cache_directory(settings), run_key(settings, mode))

    def load(self, path: Path, data: bytes) -> CachedOutcome | None:
        """The outcome stored for `path` with exactly these bytes under this run's key, or None."""
        try:
            raw = self._entry_path(path).read_bytes()
        except OSError:
            return None
        try:
            checksum, _, body = raw.partition(b"\n")
            if hashlib.sha256(body).hexdigest().encode() != checksum:
                return None  # partial or damaged
            entry = json.loads(body)
            if (entry["format"], entry["run"], entry["path"], entry["content"]) != (
                FORMAT,
                self.run_key,
                _path_key(path),
                content_hash(data),
            ):
                return None
            return _outcome_from_json(entry["outcome"])
        except (ValueError, KeyError, TypeError, IndexError, AttributeError):
            return None

    def store(self, path: Path, digest: str, outcome: CachedOutcome) -> bool:
        """Write the entry atomically; False (and nothing written) if the directory cannot be written."""
        entry = {"format": FORMAT, "run": self.run_key, "path": _path_key(path), "content": digest, "outcome": _outcome_to_json(outcome)}
        body = json.dumps(entry, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        target = self._entry_path(path)
        try:
            self._prepare()
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".json")
            try:
                with os.fdopen(handle, "wb") as stream:
                    stream.write(hashlib.sha256(body).hexdigest().encode() + b"\n" + body)
                os.replace(temporary, target)
            except BaseException:
                _remove_quietly(Path(temporary))
                raise
        except OSError:
            return False
        return True

    def _entry_path(self, path: Path) -> Path:
        name = hashlib.sha256(_path_key(path).encode("utf-8", "surrogateescape")).hexdigest()
        return self._entries / name[:2] / f"{name[2:]}.json"

    def _prepare(self) -> None:
        """The first write marks the directory as a cache: git ignores it, backup tools may skip it."""
        if self._prepared:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        for name, text in ((".gitignore", "# Automatically created by bnfix.\n*\n"), ("CACHEDIR.TAG", _CACHEDIR_TAG)):
            marker = self.directory / name
            if not marker.exists():
                marker.write_text(text, encoding="utf-8")
        self._prepared = True


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def clean(directory: Path) -> bool:
    """Remove a cache directory bnfix made (it has bnfix's CACHEDIR.TAG); False if there is none to remove.

    A `cache-dir` pointed by mistake at a directory of one's own is refused, not emptied.
    """
    if not directory.is_dir():
        return False
    tag = directory / "CACHEDIR.TAG"
    try:
        is_ours = tag.is_file() and "created by bnfix" in tag.read_text(encoding="utf-8", errors="replace")
    except OSError:
        is_ours = False
    if not is_ours:
        raise NotACacheError(f"{directory} is not a bnfix cache directory (no bnfix CACHEDIR.TAG): not removed")
    shutil.rmtree(directory)
    return True


class NotACacheError(Exception):
    """`bnfix clean` was pointed at a directory that bnfix did not create."""


def run_key(settings: Settings, mode: tuple) -> str:
    """Everything besides a file's bytes that decides its result, as one digest."""
    from bnfix.analysis.keras_version import distribution_version, installed_keras_version

    relevant = {
        field.name: _plain(getattr(settings, field.name)) for field in dataclasses.fields(settings) if field.name not in _NOT_IN_KEY
    }
    parts = {
        "bnfix": __version__,
        "code": _source_fingerprint(),
        "python": list(sys.version_info[:2]),
        "settings": relevant,
        # Without `keras-version`, rules target the installed Keras (tf-keras for code that imports tf_keras).
        "keras": [_plain(installed_keras_version()), _plain(distribution_version("tf-keras"))],
        # A notebook read without nbformat is an error that installing the `notebooks` extra must not leave cached.
        "nbformat": _plain(distribution_version("nbformat")),
        "mode": _plain(mode),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=repr).encode()).hexdigest()


def _source_fingerprint() -> str:
    """Size and modification time of every module of bnfix: a changed checkout is a different bnfix."""
    package = os.path.dirname(os.path.abspath(__file__))
    modules = []
    for folder, subfolders, files in os.walk(package):
        subfolders[:] = [name for name in subfolders if name != "__pycache__"]
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                try:
                    stat = os.stat(path)
                except OSError:
                    continue
                modules.append(f"{os.path.relpath(path, package)}:{stat.st_size}:{stat.st_mtime_ns}\n")
    return hashlib.sha256("".join(sorted(modules)).encode()).hexdigest()


def _plain(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in sorted(value.items(), key=lambda pair: str(pair[0]))}
    if hasattr(value, "value") and not isinstance(value, (str, int, float, bool)):  # enums
        return value.value
    return value


def _path_key(path: Path) -> str:
    return os.path.abspath(path)


def _remove_quietly(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def _diagnostic_to_json(diagnostic: Diagnostic) -> list:
    d = diagnostic
    safety = d.fix_safety.value if d.fix_safety is not None else None
    return [d.code, d.message, d.line, d.column, d.end_line, d.end_column, d.fix_description, safety]


def _diagnostic_from_json(item: list) -> Diagnostic:
    code, message, line, column, end_line, end_column, description, safety = item
    for number in (line, column, end_line, end_column):
        if type(number) is not int:
            raise TypeError("position is not an integer")
    if not isinstance(code, str) or not isinstance(message, str) or not isinstance(description, (str, type(None))):
        raise TypeError("text field is not a string")
    return Diagnostic(code, message, line, column, end_line, end_column, description, None if safety is None else FixSafety(safety))


def _outcome_to_json(outcome: CachedOutcome) -> dict:
    notebook = None
    if outcome.notebook is not None:
        notebook = [[cell.number, cell.first_line, cell.line_count, list(cell.file_lines)] for cell in outcome.notebook.cells]
    return {
        "source": outcome.source,
        "diagnostics": [_diagnostic_to_json(d) for d in outcome.diagnostics],
        "fixed": [_diagnostic_to_json(d) for d in outcome.fixed],
        "error": list(outcome.error) if outcome.error is not None else None,
        "notebook": notebook,
    }


def _outcome_from_json(data: dict) -> CachedOutcome:
    source = data["source"]
    if not isinstance(source, (str, type(None))):
        raise TypeError("source is not a string")
    error = data["error"]
    if error is not None:
        message, line, column = error
        if not isinstance(message, str) or type(line) is not int or type(column) is not int:
            raise TypeError("malformed error")
        error = (message, line, column)
    notebook = None
    if data["notebook"] is not None:
        from bnfix.sources.notebooks import CellSpan, NotebookMap

        notebook = NotebookMap(
            tuple(CellSpan(int(number), int(first), int(count), tuple(int(n) for n in lines)) for number, first, count, lines in data["notebook"])
        )
    return CachedOutcome(
        source,
        [_diagnostic_from_json(item) for item in data["diagnostics"]],
        [_diagnostic_from_json(item) for item in data["fixed"]],
        error,
        notebook,
    )
