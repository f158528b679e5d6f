"""GitHub Actions workflow commands (`::error file=...,line=...::message`): findings appear as annotations on the
pull request's diff. In a notebook, the line is the .ipynb line holding the code (what the PR diff shows) and the
message names the cell and its line.
"""

from __future__ import annotations

from typing import Sequence

from bnfix.process import FileResult
from bnfix.report.markers import level_of


def render_github(results: Sequence[FileResult], applied: bool, quiet: bool = False, **_styling) -> str:
    lines = []
    for result in results:
        if result.error is not None:
            error = result.error
            where = _properties(result, error.line, error.column, error.line, error.column)
            title = "bnfix: cannot check this file"
            lines.append(f"::error title={_property(title)},{where}::{_data(_prefix(result, error.line) + error.message)}")
        for d in result.diagnostics:
            where = _properties(result, d.line, d.column, d.end_line, d.end_column)
            lines.append(f"::{level_of(d.code)} title={_property(f'bnfix ({d.code})')},{where}::{_data(_prefix(result, d.line) + f'{d.code} {d.message}')}")
    return "".join(line + "\n" for line in lines)


def _properties(result: FileResult, line: int, column: int, end_line: int, end_column: int) -> str:
    file = _property(result.path.as_posix())
    if result.notebook is not None:  # columns would be columns of the JSON text
        return f"file={file},line={result.file_line(line)},endLine={result.file_line(end_line)}"
    return f"file={file},line={line},col={column},endLine={end_line},endColumn={end_column}"


def _prefix(result: FileResult, line: int) -> str:
    if result.notebook is None:
        return ""
    cell, cell_line = result.notebook.cell_location(line)
    return f"cell {cell}, line {cell_line}: "


def _data(text: str) -> str:
    """The runner's escaping for a command's message."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    """The runner's escaping for a property value, where ':' and ',' are separators."""
    return _data(text).replace(":", "%3A").replace(",", "%2C")
