"""What a rule is: a class holding its code, message, fix safety, docs and its own VALID/INVALID examples.

Modelled on Fixit's rule classes: the examples become tests (tests/test_rule_examples.py), so adding a rule adds
its tests. Rules see a parsed module and the settings; they never read files, print, or import TensorFlow.
"""

from __future__ import annotations

import enum
import textwrap
from dataclasses import dataclass, field
from functools import cached_property
from typing import ClassVar, Iterator, Mapping, Union

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, ParentNodeProvider, PositionProvider

from bnfix.names import ImportTable
from bnfix.settings import Settings


class FixSafety(str, enum.Enum):
    """Ruff's distinction: safe fixes keep behaviour; unsafe ones may change it and need --unsafe-fixes."""

    SAFE = "safe"
    UNSAFE = "unsafe"


Replacement = Union[cst.CSTNode, cst.RemovalSentinel, cst.FlattenSentinel]


@dataclass(frozen=True)
class Fix:
    """Node replacements that repair one violation, applied together or not at all."""

    changes: Mapping[cst.CSTNode, Replacement]
    description: str
    safety: FixSafety = FixSafety.SAFE
    # (module, name) pairs the new code refers to; the engine adds the imports when missing.
    imports: tuple[tuple[str, str], ...] = ()


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


class RuleContext:
    """One parsed module plus what rules ask of it: imports, positions, parents, settings."""

    def __init__(self, wrapper: MetadataWrapper, settings: Settings) -> None:
        self.wrapper = wrapper
        self.module: cst.Module = wrapper.module
        self.settings = settings

    @cached_property
    def imports(self) -> ImportTable:
        return ImportTable(self.module)

    @cached_property
    def _positions(self) -> Mapping[cst.CSTNode, CodeRange]:
        return self.wrapper.resolve(PositionProvider)

    @cached_property
    def _parents(self) -> Mapping[cst.CSTNode, cst.CSTNode]:
        return self.wrapper.resolve(ParentNodeProvider)

    def position(self, node: cst.CSTNode) -> CodeRange:
        return self._positions[node]

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        return self._parents.get(node)

    def ancestors(self, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
        current = self.parent(node)
        while current is not None:
            yield current
            current = self.parent(current)

    def code_for(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node)


class Rule:
    """Base class: subclasses set the class attributes and implement `check`.

    The class docstring is the rule's documentation, in ruff's four sections:
    ## What it does / ## Why is this bad? / ## Example (with "Use instead:") / ## Fix safety.
    """

    code: ClassVar[str]
    name: ClassVar[str]
    summary: ClassVar[str]  # one line for `bnfix rules`
    fix_safety: ClassVar[FixSafety | None] = None  # None: the rule only reports
    # Byte strings at least one of which a file must contain for the rule to have anything to say.
    needles: ClassVar[tuple[bytes, ...]] = (b"BatchNormalization",)
    VALID: ClassVar[list[Valid]] = []
    INVALID: ClassVar[list[Invalid]] = []

    def check(self, ctx: RuleContext) -> Iterator[Violation]:  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def documentation(cls) -> str:
        return textwrap.dedent(cls.__doc__ or "").strip()
