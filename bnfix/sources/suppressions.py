"""`# bnfix: ignore`, `# bnfix: ignore[BNF101,BNF201]` and `# noqa: BNF101` comments.

A comment suppresses findings on its own line; a comment alone on a line also covers the line below.
Comments are found with the tokenizer, so text inside strings never suppresses anything.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass, field

_BNFIX = re.compile(r"#\s*bnfix:\s*ignore(?:\[(?P<codes>[^\]]*)\])?", re.IGNORECASE)
_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z0-9]+(?:[\s,]+[A-Z0-9]+)*))?", re.IGNORECASE)

ALL = None  # a suppression without codes covers every code


@dataclass
class Suppressions:
    by_line: dict[int, set[str] | None] = field(default_factory=dict)

    def covers(self, code: str, lines: tuple[int, ...]) -> bool:
        for line in lines:
            if line in self.by_line:
                codes = self.by_line[line]
                if codes is ALL or any(code.startswith(c) for c in codes):
                    return True
        return False

    def _add(self, line: int, codes: set[str] | None) -> None:
        if line in self.by_line and self.by_line[line] is not ALL and codes is not ALL:
            self.by_line[line] |= codes
        elif line not in self.by_line or codes is ALL:
            self.by_line[line] = codes


def _codes(text: str | None) -> set[str] | None:
    if text is None or not text.strip():
        return ALL
    return {code.upper() for code in re.split(r"[\s,]+", text.strip()) if code}


def find_suppressions(source: str) -> Suppressions:
    result = Suppressions()
    if "bnfix" not in source and "noqa" not in source:
        return result
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return result
    previous_row = 0
    for token in tokens:
        if token.type != tokenize.COMMENT:
            if token.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
                previous_row = token.end[0]
            continue
        match = _BNFIX.search(token.string) or _NOQA.search(token.string)
        if not match:
            continue
        row = token.start[0]
        codes = _codes(match.group("codes"))
        result._add(row, codes)
        if previous_row != row:  # the comment is alone on its line: it also covers the next line
            result._add(row + 1, codes)
    return result
