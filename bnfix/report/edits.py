"""The repair of a file as text edits (region of the original + new text), derived from a diff of the two texts.

Rules change syntax trees, not text; a code-scanning UI wants "replace this region with that". A line diff finds
the changed blocks, and each block is narrowed to the characters that really differ, so a changed argument becomes
a one-word replacement rather than a whole-line one.
"""

from __future__ import annotations

import bisect
import difflib
import re
from dataclasses import dataclass

# SARIF and editors count CR, LF and CRLF as line breaks (str.splitlines would also split on \f, \v, U+2028...).
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


@dataclass(frozen=True)
class TextEdit:
    """Replace the original's characters from (start_line, start_column) up to (end_line, end_column), exclusive."""

    start_line: int  # 1-based
    start_column: int  # 1-based, in code points
    end_line: int
    end_column: int
    new_text: str

    @property
    def touched_lines(self) -> tuple[int, int]:
        """The original lines the edit deletes from or inserts into (an edit ending at column 1 stops before)."""
        last = self.end_line - 1 if self.end_column == 1 and self.end_line > self.start_line else self.end_line
        return self.start_line, last


def split_lines(text: str) -> list[str]:
    return _LINE.findall(text)


def text_edits(original: str, fixed: str) -> list[TextEdit]:
    """Non-overlapping edits, in order, that turn `original` into `fixed`."""
    old_lines, new_lines = split_lines(original), split_lines(fixed)
    old_starts, new_starts = _line_starts(old_lines), _line_starts(new_lines)
    edits: list[TextEdit] = []
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        start, end = old_starts[i1], old_starts[i2]
        removed, inserted = original[start:end], fixed[new_starts[j1] : new_starts[j2]]
        prefix = _common_prefix(removed, inserted)
        suffix = _common_prefix(removed[prefix:][::-1], inserted[prefix:][::-1])
        start, end = start + prefix, end - suffix
        (start_line, start_column), (end_line, end_column) = _position(old_lines, old_starts, start), _position(old_lines, old_starts, end)
        edits.append(TextEdit(start_line, start_column, end_line, end_column, inserted[prefix : len(inserted) - suffix]))
    return edits


def _line_starts(lines: list[str]) -> list[int]:
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    return starts  # one more entry than lines: the end of the text


def _position(lines: list[str], starts: list[int], offset: int) -> tuple[int, int]:
    index = bisect.bisect_right(starts, offset) - 1
    if index == len(lines) and lines and not lines[-1].endswith(("\n", "\r")):
        index -= 1  # the end of a last line without a line break is still on that line
    return index + 1, offset - starts[index] + 1


def _common_prefix(a: str, b: str) -> int:
    limit = min(len(a), len(b))
    i = 0
    while i < limit and a[i] == b[i]:
        i += 1
    return i
