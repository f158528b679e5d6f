"""IPython syntax in notebook cells, masked so libcst can parse the cell and restored byte for byte afterwards.

A magic line (`%timeit f()`, `!pip install x`, `files = !ls`, `obj?`, `??obj`, and the lines a trailing backslash
continues) becomes a placeholder statement with the same indentation, `__bnfix_magic_N__`, so line numbers do not
move and blocks stay well formed. A cell magic (`%%bash`, `%%writefile`) makes its whole cell opaque, except the
few whose body is Python (`%%time`, `%%capture`, ...), where only the first line is masked.

Magics are recognised only where a statement can start: not inside brackets (`(a\\n % b)` is Python's modulo),
strings, or after a backslash-continued Python line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

PLACEHOLDER = "__bnfix_magic_{}__"
PLACEHOLDER_LINE = re.compile(r"^[ \t]*__bnfix_magic_(\d+)__[ \t]*$")
# Cell magics that run their body as ordinary Python.
PYTHON_BODY_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug"})

_ESCAPE_PREFIXES = ("%", "!", "?")
_HELP_SUFFIX = re.compile(r"^[A-Za-z_*][\w.*\[\]]*\?{1,2}$")  # `model.fit?`, `np.*load*?`
_ASSIGNED_MAGIC = re.compile(r"^[A-Za-z_][\w.]*(\s*,\s*[A-Za-z_][\w.]*)*\s*=\s*[!%](?!=)")  # `out = !ls`


@dataclass
class MagicTable:
    """The original text of every masked line, by placeholder number; shared by all cells of a notebook."""

    lines: dict[int, str] = field(default_factory=dict)

    def mask(self, indent: str, original: str) -> str:
        number = len(self.lines)
        self.lines[number] = original
        return indent + PLACEHOLDER.format(number)


def mask_magics(source: str, table: MagicTable) -> str:
    """`source` with every IPython-only line replaced by a placeholder (line endings kept as they were)."""
    lines = source.splitlines(keepends=True)
    if not lines:
        return source
    first = lines[0].lstrip()
    if first.startswith("%%"):
        name = first[2:].split(maxsplit=1)[0] if first[2:].strip() else ""
        if name not in PYTHON_BODY_CELL_MAGICS:
            return "".join(_masked(line, "", table) for line in lines)
        return _masked(lines[0], "", table) + _mask_lines(lines[1:], table)
    return _mask_lines(lines, table)


def restore_magics(text: str, table: MagicTable) -> str:
    """Put every masked line back exactly as it was."""
    if not table.lines:
        return text
    restored = []
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        match = PLACEHOLDER_LINE.match(body)
        if match and int(match.group(1)) in table.lines:
            restored.append(table.lines[int(match.group(1))] + line[len(body) :])
        else:
            restored.append(line)
    return "".join(restored)


def _masked(line: str, indent: str, table: MagicTable) -> str:
    body = line.rstrip("\r\n")
    return table.mask(indent, body) + line[len(body) :]


def _mask_lines(lines: list[str], table: MagicTable) -> str:
    out: list[str] = []
    scanner = _StatementScanner()
    magic_indent: str | None = None  # set while a magic's backslash continuation runs on
    for line in lines:
        body = line.rstrip("\r\n")
        if magic_indent is not None:
            out.append(_masked(line, magic_indent, table))
            magic_indent = magic_indent if body.endswith("\\") else None
            continue
        if scanner.at_statement_start and _is_magic(body):
            indent = body[: len(body) - len(body.lstrip())]
            out.append(_masked(line, indent, table))
            magic_indent = indent if body.endswith("\\") else None
            continue
        scanner.feed(body)
        out.append(line)
    return "".join(out)


def _is_magic(body: str) -> bool:
    stripped = body.strip()
    if not stripped or stripped.startswith("#"):
        return False
    return stripped.startswith(_ESCAPE_PREFIXES) or bool(_HELP_SUFFIX.match(stripped) or _ASSIGNED_MAGIC.match(stripped))


class _StatementScanner:
    """Tracks, line by line, whether the next line starts a statement: no open bracket, string or continuation."""

    def __init__(self) -> None:
        self.depth = 0
        self.quote: str | None = None  # the open triple quote, if a multi-line string is running
        self.continued = False

    @property
    def at_statement_start(self) -> bool:
        return self.depth == 0 and self.quote is None and not self.continued

    def feed(self, line: str) -> None:
        i, n = 0, len(line)
        self.continued = False
        while i < n:
            if self.quote is not None:
                if line[i] == "\\":
                    i += 2
                    continue
                if line.startswith(self.quote, i):
                    i += len(self.quote)
                    self.quote = None
                    continue
                i += 1
                continue
            char = line[i]
            if char == "#":
                return
            if char in "\"'":
                triple = char * 3
                if line.startswith(triple, i):
                    self.quote = triple
                    i += 3
                    continue
                i = _end_of_short_string(line, i)
                continue
            if char in "([{":
                self.depth += 1
            elif char in ")]}":
                self.depth = max(0, self.depth - 1)
            elif char == "\\" and i == n - 1:
                self.continued = True
            i += 1


def _end_of_short_string(line: str, start: int) -> int:
    quote, i = line[start], start + 1
    while i < len(line):
        if line[i] == "\\":
            i += 2
            continue
        if line[i] == quote:
            return i + 1
        i += 1
    return len(line)
