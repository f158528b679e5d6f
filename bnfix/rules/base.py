"""What a rule is: a class holding its code, message, fix safety, docs and its own VALID/INVALID examples.

Modelled on Fixit's rule classes: the examples become tests (tests/test_rule_examples.py), so adding a rule adds
its tests. Rules see a parsed module and the settings; they never read files, print, or import TensorFlow.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import ClassVar, Iterator

import libcst as cst

from bnfix.analysis.context import ModuleContext
from bnfix.analysis.syntax_facts import SyntaxFacts
from bnfix.fixes.fix import Fix
from bnfix.fixes.safety import FixSafety


@dataclass(frozen=True)
class Violation:
    node: cst.CSTNode
    message: str
    fix: Fix | None = None


@dataclass(frozen=True)
class Valid:
    """Code the rule must leave alone (under `options`, e.g. {"policy": "pre"})."""

    code: str
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Invalid:
    """Code the rule must report; `expected` is the source after `apply` (None: report only, nothing changes)."""

    code: str
    expected: str | None = None
    options: dict = field(default_factory=dict)


class Rule:
    """Base class: subclasses set the class attributes and implement `check`.

    The class docstring is the rule's documentation, in ruff's four sections:
    ## What it does / ## Why is this bad? / ## Example (with "Use instead:") / ## Fix safety.
    """

    code: ClassVar[str]
    name: ClassVar[str]
    summary: ClassVar[str]  # one line for `bnfix rules`
    fix_safety: ClassVar[FixSafety | None] = None  # None: the rule only reports
    VALID: ClassVar[list[Valid]] = []
    INVALID: ClassVar[list[Invalid]] = []

    def check(self, ctx: ModuleContext) -> Iterator[Violation]:  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def may_report(cls, facts: SyntaxFacts) -> bool:
        """A necessary condition for `check` to report anything, on CPython's tree of a file that passed the
        catalogue's needles (`bnfix.rules.CATALOGUE`).

        False only when `check` certainly finds nothing: the file then skips libcst's parse if no other rule
        needs it. A rule whose findings need more than its needles overrides this (tests/test_syntax_facts.py).
        """
        return True

    @classmethod
    def documentation(cls) -> str:
        return textwrap.dedent(cls.__doc__ or "").strip()
