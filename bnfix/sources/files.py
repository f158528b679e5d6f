"""Finding source files, reading them exactly, and writing them back without ever losing one.

Reading keeps what a round trip must preserve: the encoding (PEP 263 cookie), a UTF-8 BOM, and line endings
(decoding never translates newlines). Writing is atomic: a temporary file in the same directory, flushed,
given the original's mode, then `os.replace`d over it; a symlink is followed so the link stays a link.
"""

from __future__ import annotations

import codecs
import errno
import io
import os
import stat
import tempfile
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

if TYPE_CHECKING:
    import pathspec

SOURCE_SUFFIXES = (".py",)
# What `check`/`apply` read: modules and Jupyter notebooks. `verify` runs scripts, so it keeps SOURCE_SUFFIXES.
CHECKED_SUFFIXES = (".py", ".ipynb")
SKIPPED_DIRECTORIES = frozenset(
    {
        ".git", ".hg", ".svn", ".tox", ".nox", ".venv", "venv", ".env", "env", "__pycache__", "build", "dist",
        "site-packages", "node_modules", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".ipynb_checkpoints", ".eggs",
    }
)  # fmt: skip


class ReadError(Exception):
    """The file cannot be read as text (permissions, undecodable bytes)."""


@dataclass(frozen=True)
class SourceText:
    text: str
    encoding: str
    bom: bool

    def encode(self, text: str) -> bytes:
        data = text.encode(self.encoding)
        return codecs.BOM_UTF8 + data if self.bom else data


def decode_source(data: bytes) -> SourceText:
    bom = data.startswith(codecs.BOM_UTF8)
    body = data[len(codecs.BOM_UTF8) :] if bom else data
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(body).readline)
    except SyntaxError as error:  # an unknown codec in the cookie
        raise ReadError(str(error)) from None
    if encoding == "utf-8-sig":
        encoding = "utf-8"
    try:
        return SourceText(body.decode(encoding), encoding, bom)
    except (UnicodeDecodeError, LookupError) as error:
        raise ReadError(f"cannot decode as {encoding}: {error}") from None


def read_source(path: Path) -> SourceText:
    return decode_source(read_bytes(path))


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise ReadError(error.strerror or str(error)) from None


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path`'s content with `data` in one step; the old file stays whole if anything fails."""
    target = Path(os.path.realpath(path))
    mode = stat.S_IMODE(target.stat().st_mode)
    # Replacing through the directory would succeed on a read-only file (and as root, always): honour the mode
    # the way an editor does, rather than silently rewriting a file someone protected.
    if not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) or not os.access(target, os.W_OK):
        raise PermissionError(errno.EACCES, "file is read-only", str(path))
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".bnfix")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


# For a walk whose projects each have their own `exclude`: a directory -> the root of the project its files belong
# to (None: none) and that project's patterns. Asked at each root walked and at each directory with a pyproject.toml.
ExcludeAt = Callable[[Path], "tuple[Path | None, Iterable[str]]"]


def discover(
    paths: Iterable[Path], exclude: Iterable[str] = (), suffixes: tuple[str, ...] = SOURCE_SUFFIXES, exclude_at: ExcludeAt | None = None
) -> Iterator[Path]:
    """Source files under `paths`, in a stable order; a file named explicitly is always included.

    `exclude` is matched against each path as given and each name; with `exclude_at`, each project's own patterns
    apply below it instead, matched also relative to its root (as ruff applies each pyproject.toml's `exclude`).
    """
    specs: dict[tuple[Path | None, tuple[str, ...]], _Excluded] = {}

    def excluded_at(directory: Path | None, patterns: Iterable[str]) -> _Excluded:
        import pathspec  # only a directory walk needs it: an editor checking one file does not pay for it

        key = (directory, tuple(patterns))
        if key not in specs:
            specs[key] = _Excluded(directory, pathspec.GitIgnoreSpec.from_lines(list(key[1])))
        return specs[key]

    def project_at(directory: Path) -> _Excluded | None:
        return excluded_at(*exclude_at(directory)) if exclude_at is not None else None

    seen: set[Path] = set()
    for root in paths:
        if root.is_file() or not root.exists():
            if root not in seen:
                seen.add(root)
                yield root
            continue
        for found in _walk(root, project_at(root) or excluded_at(None, exclude), [], suffixes, project_at):
            if found not in seen:
                seen.add(found)
                yield found


@dataclass(frozen=True)
class _Excluded:
    """A project's `exclude` patterns, and its root (None: matched only against paths as given and names)."""

    root: Path | None
    spec: pathspec.PathSpec

    def match(self, entry: Path, suffix: str) -> bool:
        if self.spec.match_file(entry.as_posix() + suffix) or self.spec.match_file(entry.name + suffix):
            return True
        if self.root is None:
            return False
        try:  # abspath, not resolve: no system call per entry walked
            relative = Path(os.path.abspath(entry)).relative_to(self.root).as_posix()
        except ValueError:
            return False
        return relative != entry.as_posix() and self.spec.match_file(relative + suffix)  # run from the root: done


def _walk(
    directory: Path,
    excluded: _Excluded,
    ignores: list[tuple[Path, pathspec.PathSpec]],
    suffixes: tuple[str, ...],
    project_at: Callable[[Path], _Excluded | None],
) -> Iterator[Path]:
    import pathspec

    gitignore = directory / ".gitignore"
    if gitignore.is_file():
        try:
            lines = gitignore.read_text(encoding="utf-8", errors="replace").splitlines()
            ignores = [*ignores, (directory, pathspec.GitIgnoreSpec.from_lines(lines))]
        except OSError:
            pass
    try:
        entries = sorted(directory.iterdir(), key=lambda p: p.name)
    except OSError:
        return
    for entry in entries:
        is_dir = entry.is_dir()
        if is_dir and (entry.name in SKIPPED_DIRECTORIES or entry.name.endswith(".egg-info")):
            continue
        if _ignored(entry, is_dir, excluded, ignores):
            continue
        if is_dir:
            if not entry.is_symlink():
                nested = project_at(entry) if (entry / "pyproject.toml").is_file() else None
                yield from _walk(entry, nested or excluded, ignores, suffixes, project_at)
        elif entry.suffix in suffixes:
            yield entry


def _ignored(entry: Path, is_dir: bool, excluded: _Excluded, ignores: list[tuple[Path, pathspec.PathSpec]]) -> bool:
    suffix = "/" if is_dir else ""
    if excluded.match(entry, suffix):
        return True
    for base, spec in ignores:
        relative = entry.relative_to(base).as_posix() + suffix
        if spec.match_file(relative):
            return True
    return False
