"""Unified diffs of what `apply` would write: what a reviewer reads."""

from __future__ import annotations

import difflib

from bnfix.process import FileResult


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
