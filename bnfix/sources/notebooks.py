"""Jupyter notebooks as one module: code cells joined in order, findings mapped back to cell and line.

Analyses that span cells (a model built in one cell, trained in the next) see one module. Each cell is followed by
a marker comment so the repaired module can be cut back into the same cells; IPython syntax is masked
(bnfix.sources.magics) and restored byte for byte. Only the `source` value of a cell whose code changed is rewritten,
spliced into the file's text in the file's own style (indent, ASCII escaping, line endings), so outputs, metadata,
key order and the final newline stay exactly as they were. nbformat reads and checks the file; it is imported only
when a notebook is processed.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass

from bnfix.sources.magics import MagicTable, mask_magics, restore_magics
from bnfix.sources.notebook_json import SourceValue, source_values

CELL_MARKER = "# bnfix: end of cell {}"
_CELL_MARKER_LINE = re.compile(r"^# bnfix: end of cell (\d+)$")
_CITED_LINE = re.compile(r"\(line (\d+)\)")


class NotebookError(Exception):
    """The file is not a notebook bnfix can read, or a repair could not be cut back into its cells."""


@dataclass(frozen=True)
class CellSpan:
    """Where one code cell sits in the joined module."""

    number: int  # 1-based position among all the notebook's cells, as a reader counts them
    first_line: int  # module line of the cell's first line
    line_count: int
    file_lines: tuple[int, ...]  # the .ipynb line holding each of the cell's source lines


@dataclass(frozen=True)
class NotebookMap:
    """Translates a line of the joined module into a cell and line (for people) or a line of the .ipynb file."""

    cells: tuple[CellSpan, ...]

    def _span(self, module_line: int) -> tuple[CellSpan, int]:
        starts = [cell.first_line for cell in self.cells]
        index = max(0, bisect.bisect_right(starts, module_line) - 1)
        cell = self.cells[index]
        return cell, min(max(module_line - cell.first_line, 0), max(cell.line_count - 1, 0))

    def cell_location(self, module_line: int) -> tuple[int, int]:
        """(cell number, 1-based line within the cell)."""
        if not self.cells:
            return 1, module_line
        cell, offset = self._span(module_line)
        return cell.number, offset + 1

    def in_cells(self, message: str) -> str:
        """A message that cites another line ("frozen (line 351)") cites it as a cell and line instead."""

        def cell_and_line(match: re.Match) -> str:
            cell, line = self.cell_location(int(match.group(1)))
            return f"(cell {cell}, line {line})"

        return _CITED_LINE.sub(cell_and_line, message)

    def file_line(self, module_line: int) -> int:
        if not self.cells:
            return 1
        cell, offset = self._span(module_line)
        if not cell.file_lines:
            return 1
        return cell.file_lines[min(offset, len(cell.file_lines) - 1)]


@dataclass(frozen=True)
class JsonStyle:
    """How the file was serialised, so that a rewritten cell source looks like the rest of the file."""

    indent: int | None
    ensure_ascii: bool
    crlf: bool


@dataclass(frozen=True)
class CodeCell:
    number: int  # 1-based position among all cells
    source: str
    stored_as_list: bool
    value: SourceValue | None


@dataclass
class Notebook:
    raw: str
    cells: list[CodeCell]
    style: JsonStyle
    is_python: bool


@dataclass
class JoinedCells:
    module: str
    map: NotebookMap
    magics: MagicTable
    sources: list[str]  # each code cell's source as the file has it


def read_notebook(raw: str) -> Notebook:
    """Parse and check a notebook; raises NotebookError with a message a person can act on."""
    try:
        import nbformat
        from nbformat.reader import NotJSONError
    except ImportError:
        raise NotebookError("reading notebooks needs nbformat: pip install 'bnfix[notebooks]'") from None

    try:
        node = nbformat.reader.reads(raw)  # rejects what is not a notebook of a known version
    except NotJSONError:
        raise NotebookError("not a notebook: the file is not valid JSON") from None
    except Exception as error:  # nbformat raises several unrelated types for malformed notebooks
        raise NotebookError(f"not a notebook: {error}") from None
    if node.get("nbformat", 4) >= 4:
        all_cells, source_key = node.get("cells", []), "source"
    else:
        all_cells = [cell for sheet in node.get("worksheets", []) for cell in sheet.get("cells", [])]
        source_key = "input"
    values = source_values(raw)
    cells = [
        CodeCell(number, _as_text(cell.get(source_key, "")), _stored_as_list(raw, values.get(number)), values.get(number))
        for number, cell in enumerate(all_cells, 1)
        if cell.get("cell_type") == "code"
    ]
    return Notebook(raw, cells, _detect_style(raw), _is_python(node))


def join_cells(notebook: Notebook) -> JoinedCells:
    """One module of all code cells, in order, each followed by its marker line; magics masked."""
    table = MagicTable()
    parts: list[str] = []
    spans: list[CellSpan] = []
    line = 1
    for index, cell in enumerate(notebook.cells):
        masked = mask_magics(cell.source, table)
        if masked and not masked.endswith(("\n", "\r")):
            masked += "\n"
        count = len(masked.splitlines())
        spans.append(CellSpan(cell.number, line, count, cell.value.lines if cell.value else ()))
        parts.append(masked + CELL_MARKER.format(index) + "\n")
        line += count + 1
    return JoinedCells("".join(parts), NotebookMap(tuple(spans)), table, [cell.source for cell in notebook.cells])


def split_module(module: str, joined: JoinedCells) -> list[str]:
    """The repaired module cut back into cell sources, magics restored; NotebookError if the markers moved."""
    cells: list[str] = []
    current: list[str] = []
    for line in module.splitlines(keepends=True):
        match = _CELL_MARKER_LINE.match(line.rstrip("\r\n"))
        if match:
            if int(match.group(1)) != len(cells):
                raise NotebookError("a repair crossed a cell boundary; notebook left unchanged")
            cells.append("".join(current))
            current = []
        else:
            current.append(line)
    if len(cells) != len(joined.sources) or "".join(current).strip():
        raise NotebookError("a repair crossed a cell boundary; notebook left unchanged")
    restored = []
    for text, original in zip(cells, joined.sources):
        text = restore_magics(text, joined.magics)
        if not original.endswith(("\n", "\r")) and text.endswith("\n"):
            text = text[:-1]  # cells rarely end with a newline; the join added one
        restored.append(text)
    return restored


def write_notebook(notebook: Notebook, sources: list[str]) -> str:
    """The file's text with each changed cell's source value spliced in; every other byte as it was read.

    Splicing instead of re-serialising the whole document keeps what a JSON round trip may not: the number
    formats and escapes other tools wrote, key order, and outputs stored as single strings.
    """
    text = notebook.raw
    edits = [
        (cell.value, new_source, cell.stored_as_list)
        for cell, new_source in zip(notebook.cells, sources)
        if new_source != cell.source
    ]
    for value, new_source, as_list in sorted(edits, key=lambda edit: edit[0].start if edit[0] else -1, reverse=True):
        if value is None:
            raise NotebookError("cannot locate a cell's source in the file; notebook left unchanged")
        encoded = _encode_source(new_source, as_list, _line_indent(text, value.start), notebook.style)
        text = text[: value.start] + encoded + text[value.end :]
    return text


def _encode_source(source: str, as_list: bool, key_indent: str, style: JsonStyle) -> str:
    if not as_list:
        return json.dumps(source, ensure_ascii=style.ensure_ascii)
    items = source.splitlines(keepends=True)  # nbformat's own split
    if style.indent is None or not items:
        return json.dumps(items, ensure_ascii=style.ensure_ascii)
    newline = "\r\n" if style.crlf else "\n"
    return json.dumps(items, indent=style.indent, ensure_ascii=style.ensure_ascii).replace("\n", newline + key_indent)


def _line_indent(text: str, offset: int) -> str:
    line_start = text.rfind("\n", 0, offset) + 1
    line = text[line_start:offset]
    return line[: len(line) - len(line.lstrip(" \t"))]


def _stored_as_list(raw: str, value: SourceValue | None) -> bool:
    return value is None or raw[value.start] == "["


def _detect_style(raw: str) -> JsonStyle:
    body = raw.strip()
    lines = body.split("\n", 2)
    indent = len(lines[1]) - len(lines[1].lstrip(" ")) if len(lines) > 1 else None
    ensure_ascii = raw.isascii() and "\\u" in raw
    return JsonStyle(indent, ensure_ascii, "\r\n" in raw)


def _is_python(node) -> bool:
    metadata = node.get("metadata", {})
    language = (metadata.get("language_info") or {}).get("name") or (metadata.get("kernelspec") or {}).get("language")
    return language is None or str(language).lower() == "python"


def _as_text(source) -> str:
    return "".join(source) if isinstance(source, list) else (source or "")
