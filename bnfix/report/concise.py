"""`path:line:col: CODE message`, one finding a line: what IDE output filters and problem matchers read."""

from __future__ import annotations

from typing import Sequence

from bnfix.process import FileResult


def render_concise(results: Sequence[FileResult], applied: bool, quiet: bool = False) -> str:
    lines = []
    for result in results:
        if result.error is not None:
            lines.append(f"{result.location(result.error.line, result.error.column)}: error: {result.error.message}")
        for d in result.diagnostics:
            lines.append(f"{result.location(d.line, d.column)}: {d.code} {d.message}")
    return "\n".join(lines) + ("\n" if lines else "")
