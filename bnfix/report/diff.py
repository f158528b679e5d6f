"""Unified diffs of what `apply` would write: what a reviewer reads, hunk for hunk what `git diff` shows after
`apply` (the lines are paired by `bnfix.report.git_diff`, git's own algorithm)."""

from __future__ import annotations

from bnfix.process import FileResult
from bnfix.report.git_diff import split_lines, unified_hunks
from bnfix.report.style import Palette


def unified_diff(result: FileResult) -> str:
    if not result.changed:
        return ""
    name = result.path.as_posix()
    # `a/`, `b/` prefixes let a reviewer `git apply` a relative diff; an absolute path is shown as it is.
    old, new = (name, name) if result.path.is_absolute() else (f"a/{name}", f"b/{name}")
    hunks = "".join(unified_hunks(split_lines(result.original), split_lines(result.source)))
    return f"--- {old}\n+++ {new}\n{hunks}" if hunks else ""


def paint_diff(diff: str, palette: Palette) -> str:
    """A unified diff for a terminal: headers bold, hunk ranges cyan, removed lines red, added lines green."""
    if not palette.enabled:
        return diff
    painted = []
    for line in diff.splitlines(keepends=True):
        body, end = (line[:-1], line[-1]) if line.endswith("\n") else (line, "")
        if line.startswith(("---", "+++")):
            body = palette.path(body)
        elif line.startswith("@@"):  # as git colours it: the ranges, not the function context after them
            ranges, marker, context = body.partition(" @@")
            body = palette.hunk(ranges + marker) + context
        elif line.startswith("-"):
            body = palette.removed(body)
        elif line.startswith("+"):
            body = palette.added(body)
        painted.append(body + end)
    return "".join(painted)
