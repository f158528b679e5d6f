"""Unified diffs of what `apply` would write: what a reviewer reads."""

from __future__ import annotations

import difflib

from bnfix.process import FileResult
from bnfix.report.style import Palette


def unified_diff(result: FileResult) -> str:
    if not result.changed:
        return ""
    name = result.path.as_posix()
    # `a/`, `b/` prefixes let a reviewer `git apply` a relative diff; an absolute path is shown as it is.
    old, new = (name, name) if result.path.is_absolute() else (f"a/{name}", f"b/{name}")
    lines = difflib.unified_diff(
        result.original.splitlines(keepends=True), result.source.splitlines(keepends=True), fromfile=old, tofile=new
    )
    return "".join(line if line.endswith(("\n", "\r")) else line + "\n\\ No newline at end of file\n" for line in lines)


def paint_diff(diff: str, palette: Palette) -> str:
    """A unified diff for a terminal: headers bold, hunk ranges cyan, removed lines red, added lines green."""
    if not palette.enabled:
        return diff
    painted = []
    for line in diff.splitlines(keepends=True):
        body, end = (line[:-1], line[-1]) if line.endswith("\n") else (line, "")
        if line.startswith(("---", "+++")):
            body = palette.path(body)
        elif line.startswith("@@"):
            body = palette.hunk(body)
        elif line.startswith("-"):
            body = palette.removed(body)
        elif line.startswith("+"):
            body = palette.added(body)
        painted.append(body + end)
    return "".join(painted)
