"""What checking a source gives: its findings, its repaired text, or why it could not be processed.

Plain data, apart from the engine that computes it: the result cache and the reports read it back without
importing libcst, so a file whose result is cached costs no parse and no parser.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bnfix.fixes.safety import FixSafety


class SourceError(Exception):
    """The source cannot be processed: it does not parse, or a fix produced invalid code."""

    def __init__(self, message: str, line: int = 1, column: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    line: int  # 1-based
    column: int  # 1-based
    end_line: int
    end_column: int
    fix_description: str | None = None
    fix_safety: FixSafety | None = None

    @property
    def fixable(self) -> bool:
        return self.fix_safety is not None


@dataclass
class SourceResult:
    original: str
    source: str  # the repaired text (equal to `original` when nothing was fixed)
    diagnostics: list[Diagnostic] = field(default_factory=list)  # what remains to report
    fixed: list[Diagnostic] = field(default_factory=list)  # what was repaired

    @property
    def changed(self) -> bool:
        return self.source != self.original
