"""What the server analyses: one editor document, or a notebook's code cells joined into one module.

The engine sees a single module either way; a target knows which document and line each module line came from,
and how to cut a repaired module back into the documents' texts. Notebooks reuse the CLI's cell joining
(bnfix.sources.notebooks), so a model built in one cell and trained in the next is analysed as in `bnfix check`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from bnfix.sources.notebooks import CodeCell, JoinedCells, JsonStyle, Notebook, join_cells, split_module

_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # LSP's line breaks, which are also libcst's


def split_lines(text: str) -> list[str]:
    """Lines as LSP counts them (with their breaks kept); unlike str.splitlines, \\f or \\u2028 do not end a line."""
    lines: list[str] = []
    start = 0
    for match in _LINE_BREAK.finditer(text):
        lines.append(text[start : match.end()])
        start = match.end()
    if start < len(text) or not lines:
        lines.append(text[start:])
    return lines


@dataclass(frozen=True)
class DocumentTarget:
    """A Python file open in the editor."""

    uri: str
    text: str
    path: Path | None  # where to look for pyproject.toml; None for an unsaved buffer
    _lines: dict[str, list[str]] = field(default_factory=dict, compare=False, repr=False)

    @property
    def module(self) -> str:
        return self.text

    def lines(self, uri: str) -> list[str]:
        """The document's lines, split once (every position sent to the client is converted with them)."""
        if uri not in self._lines:
            self._lines[uri] = split_lines(self.texts[uri])
        return self._lines[uri]

    @property
    def texts(self) -> dict[str, str]:
        return {self.uri: self.text}

    def locate(self, module_line: int) -> tuple[str, int]:
        """(document uri, 1-based line in it) of a 1-based module line."""
        return self.uri, module_line

    def in_documents(self, message: str) -> str:
        return message

    def split(self, module: str) -> dict[str, str]:
        """The new text of each document, from a repaired module."""
        return {self.uri: module}


@dataclass(frozen=True)
class CellText:
    number: int  # 1-based position among all the notebook's cells, markdown included (as `bnfix check` counts)
    uri: str
    text: str


class NotebookTarget:
    """The code cells of a notebook open in the editor (LSP notebook documents), in order."""

    def __init__(self, uri: str, cells: list[CellText], path: Path | None) -> None:
        self.uri = uri
        self.path = path
        self.cells = cells
        notebook = Notebook(
            raw="",
            cells=[CodeCell(cell.number, cell.text, stored_as_list=True, value=None) for cell in cells],
            style=JsonStyle(indent=None, ensure_ascii=False, crlf=False),
            is_python=True,
        )
        self._joined: JoinedCells = join_cells(notebook)
        self._uri_of_cell = {cell.number: cell.uri for cell in cells}
        self._lines: dict[str, list[str]] = {}

    @property
    def module(self) -> str:
        return self._joined.module

    @property
    def texts(self) -> dict[str, str]:
        return {cell.uri: cell.text for cell in self.cells}

    def lines(self, uri: str) -> list[str]:
        if uri not in self._lines:
            self._lines[uri] = split_lines(self.texts[uri])
        return self._lines[uri]

    def locate(self, module_line: int) -> tuple[str, int]:
        number, line = self._joined.map.cell_location(module_line)
        return self._uri_of_cell[number], line

    def in_documents(self, message: str) -> str:
        """A message citing another module line ("frozen (line 12)") cites its cell and line instead."""
        return self._joined.map.in_cells(message)

    def split(self, module: str) -> dict[str, str]:
        """Raises bnfix.sources.notebooks.NotebookError when a repair crossed a cell boundary."""
        return {cell.uri: text for cell, text in zip(self.cells, split_module(module, self._joined))}


Target = DocumentTarget | NotebookTarget
