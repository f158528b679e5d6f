"""`path:line:col: CODE [*] message`, one finding a line (ruff's concise format): what IDE output filters and
problem matchers read. In a notebook the location is `path:cell N:line:col`, the line counted within the cell."""

from __future__ import annotations

from typing import Sequence

from bnfix.process import FileResult
from bnfix.report.style import PLAIN, Palette
from bnfix.report.text import finding_lines


def render_concise(
    results: Sequence[FileResult], applied: bool, quiet: bool = False, *, palette: Palette = PLAIN, unsafe_fixes: bool = False
) -> str:
    lines = [line for result in results for line in finding_lines(result, applied, unsafe_fixes, palette)]
    return "".join(line + "\n" for line in lines)
