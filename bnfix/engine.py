"""One source text in, findings and the repaired text out.

Fixes are applied to a fixed point: each pass runs every enabled rule, applies the fixes whose nodes do not
overlap, re-parses the result (a rule that writes invalid code is a bug, reported as an error, never written),
and runs again until nothing is left to fix or the pass limit is reached.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Iterable, Sequence

import libcst as cst
from libcst.metadata import CodeRange

from bnfix.diagnostics import Diagnostic, SourceError, SourceResult
from bnfix.rules import applicable_rules, enabled_codes
from bnfix.analysis.context import ModuleContext
from bnfix.analysis.positions import ChunkPositions
from bnfix.fixes.fix import Fix
from bnfix.fixes.safety import FixSafety
from bnfix.fixes.replace import UnsupportedReplacement, replace_nodes
from bnfix.rules.base import Rule, Violation
from bnfix.settings import Settings
from bnfix.sources.statement_chunks import StatementChunks
from bnfix.sources.suppressions import find_suppressions
from bnfix.analysis.syntax_facts import SyntaxFacts
from bnfix.sources.syntax_check import SyntaxProblem, python_parse

MAX_PASSES = 25


class EditorDocument:
    """An editor's document across its versions: its top-level statements kept parsed (an edit re-parses only what it
    touched), and its last check, from which a quick fix is built without checking the same text again."""

    def __init__(self) -> None:
        self.chunks = StatementChunks()
        self.positions = ChunkPositions()
        self.last_check: _Checked | None = None

    def keep(self, checked: _Checked) -> None:
        """`checked` becomes the last check; the one it replaces gives up its analyses (see ModuleContext.release)."""
        previous, self.last_check = self.last_check, checked
        if previous is not None and previous.ctx is not None and previous.ctx is not checked.ctx:
            previous.ctx.release()

    def context(self, module: cst.Module, settings: Settings, python: tuple[str, SyntaxFacts] | None = None) -> ModuleContext:
        """The context of a module this document's chunks gave (its positions then kept per chunk)."""
        layout = self.chunks.layout
        chunked = (layout, self.positions) if layout is not None and layout.module is module else None
        return ModuleContext(module, settings, chunked, python)


def parse(source: str, chunks: StatementChunks | None = None) -> cst.Module:
    # CPython looks first: it refuses the nesting that crashes libcst's parser, and words syntax errors better.
    tree, problem = python_parse(source)
    return _parse_given(source, tree, problem, chunks)


def _parse_given(source: str, tree: ast.Module | None, problem: SyntaxProblem | None, chunks: StatementChunks | None) -> cst.Module:
    """libcst's tree, given CPython's tree or verdict: joined from an editor document's kept chunks when there are
    any, else parsed whole.

    Whatever the chunks cannot give (a chunk libcst refuses, a module whose chunks disagree on its indentation) is
    parsed whole, so errors are worded and placed as a whole parse words and places them.
    """
    if chunks is not None and tree is not None:
        try:
            joined = chunks.parse(source, tree)
        except (cst.ParserSyntaxError, RecursionError, MemoryError):
            joined = None
        if joined is not None:
            return joined
    return _parse(source, problem)


def _parse(source: str, problem: SyntaxProblem | None) -> cst.Module:
    """libcst's tree of `source`, given what CPython said of it."""
    if problem is not None and problem.fatal:
        raise SourceError(problem.message, problem.line, problem.column)
    try:
        return cst.parse_module(source)
    except cst.ParserSyntaxError as error:
        if problem is not None:
            raise SourceError(problem.message, problem.line, problem.column) from None
        raise SourceError(f"syntax error: {error.message}", error.raw_line, error.raw_column + 1) from None
    except (RecursionError, MemoryError) as error:  # pathological nesting
        raise SourceError(f"cannot parse: {type(error).__name__}") from None


@dataclass(frozen=True)
class Screening:
    """What the second prefilter leaves: the rules still to run, and CPython's verdict on the source (its tree, or
    what is wrong with it), for the parse that follows."""

    rules: list[type[Rule]]
    problem: SyntaxProblem | None
    tree: ast.Module | None = None
    facts: SyntaxFacts | None = None


def screen(source: str, rules: Sequence[type[Rule]]) -> Screening:
    """The second prefilter: the rules whose necessary condition holds on CPython's tree (`Rule.may_report`).

    CPython's parse is run anyway, as the syntax pre-check, and costs a fifth to a tenth of libcst's; a file left
    with no rule is not given to libcst at all. A source CPython does not accept keeps every rule (and libcst
    then reports the error, or parses grammar newer than this interpreter).
    """
    if not rules:
        return Screening([], None)
    tree, problem = python_parse(source)
    if tree is None:
        return Screening(list(rules), problem)
    facts = SyntaxFacts(tree)
    return Screening([rule for rule in rules if rule.may_report(facts)], None, tree, facts)


def check_source(source: str, settings: Settings, document: EditorDocument | None = None) -> SourceResult:
    """Findings for `source`, each saying whether (and how safely) it can be fixed.

    `document`: an editor's, kept between its versions (parsed statements, the last check).
    """
    checked = _check(source, settings, document)
    if document is not None:
        document.keep(checked)
    return SourceResult(source, source, [item.diagnostic for item in checked.found])


@dataclass(frozen=True)
class _Checked:
    source: str
    settings: Settings
    ctx: ModuleContext | None  # None when no rule was left to run
    found: list[_Found]


def _check(source: str, settings: Settings, document: EditorDocument | None, only: str | None = None) -> _Checked:
    """Screen, parse and lint (with `only`, that rule alone); the document's last check when it was of this text."""
    last = document and document.last_check
    if last is not None and last.source == source and last.settings == settings:
        return last  # every rule's findings: `only`'s are among them
    rules = applicable_rules(source, [code for code in enabled_codes(settings) if only in (None, code)])
    screening = screen(source, rules)
    if not screening.rules:
        return _Checked(source, settings, None, [])
    module = _parse_given(source, screening.tree, screening.problem, document and document.chunks)
    python = (source, screening.facts) if screening.facts is not None else None
    ctx = ModuleContext(module, settings, python=python) if document is None else document.context(module, settings, python)
    return _Checked(source, settings, ctx, _lint(ctx, source, screening.rules))


def fix_source(source: str, settings: Settings, document: EditorDocument | None = None) -> SourceResult:
    """Apply every allowed fix to a fixed point; report what is left.

    With an editor's `document`, its last check of this text is the first pass, and the check of the result is
    kept as the last check of the text the editor will send next.
    """
    checked = _check(source, settings, document)
    current = source
    fixed: list[Diagnostic] = []
    for _ in range(MAX_PASSES):
        chosen = _non_overlapping(item for item in checked.found if _allowed(item.violation.fix, settings))
        if not chosen:
            break
        if current is source:
            _ensure_reproduced(checked.ctx, source)
        new_source = _repaired_text(checked.ctx, [item.violation.fix for item in chosen], document)
        try:
            # A repair may bring in a name another rule looks for: the prefilters run again on the repaired text.
            repaired = _check(new_source, settings, document)
        except SourceError as error:
            codes = ", ".join(sorted({item.diagnostic.code for item in chosen}))
            raise SourceError(f"internal error: the {codes} fix produced invalid code ({error.message}); file left unchanged") from None
        fixed.extend(item.diagnostic for item in chosen)
        unchanged = new_source == current  # fixes that change nothing would loop forever
        current, checked = new_source, repaired
        if unchanged:
            break
    if document is not None:
        document.keep(checked)
    return SourceResult(source, current, [item.diagnostic for item in checked.found], fixed)


def fix_one(source: str, settings: Settings, code: str, line: int, column: int, document: EditorDocument | None = None) -> str | None:
    """The source with only the fix of the `code` finding at `line`:`column` applied; None if it has none.

    An editor's quick fix: the user picks this one repair, so unsafe fixes are applied too (the caller labels them).
    """
    checked = _check(source, settings, document, only=code)
    for item in checked.found:
        if (item.diagnostic.code, item.diagnostic.line, item.diagnostic.column) == (code, line, column) and item.violation.fix is not None:
            _ensure_reproduced(checked.ctx, source)
            new_source = _repaired_text(checked.ctx, [item.violation.fix], document)
            try:
                parse(new_source, document and document.chunks)
            except SourceError as error:
                raise SourceError(f"internal error: the {code} fix produced invalid code ({error.message})") from None
            return new_source
    return None


def _repaired_text(ctx: ModuleContext, fixes: list[Fix], document: EditorDocument | None) -> str:
    """The code of `ctx`'s module with `fixes` applied. An editor's document keeps the chunks a repair changed as
    parsed (`StatementChunks.expect`), so the check of the repaired text parses none of them; unless an import was
    added: libcst's AddImportsVisitor writes an import's commas as defaults, which its parser never gives."""
    new_module = _apply(ctx, fixes)
    layout = ctx.chunk_layout
    if document is not None and layout is not None and not any(fix.imports for fix in fixes):
        joined = document.chunks.expect(layout, new_module)
        if joined is not None:
            return joined
    return new_module.code


def _ensure_reproduced(ctx: ModuleContext, source: str) -> None:
    """Refuse to repair a file libcst's tree does not give back exactly: the repair would change other lines too.

    Found on real code: libcst drops the blank lines before an indented comment at the very end of a file.
    """
    rendered = ctx.code
    if rendered == source:
        return
    ours, theirs = rendered.splitlines(), source.splitlines()
    line = 1 + next((index for index, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))
    raise SourceError(
        f"not fixed: libcst does not reproduce this file exactly (from line {line} on), so a repair would also change"
        " lines no fix touches; file left unchanged",
        line,
    )


def _allowed(fix: Fix | None, settings: Settings) -> bool:
    return fix is not None and (fix.safety is FixSafety.SAFE or settings.unsafe_fixes)


@dataclass(frozen=True)
class _Found:
    diagnostic: Diagnostic
    violation: Violation
    spans: list  # (start, end) of every node the fix replaces, for the overlap test


def _lint(ctx: ModuleContext, source: str, rules: Sequence[type[Rule]]) -> list[_Found]:
    suppressions = find_suppressions(source)
    reported = [(rule_class, violation) for rule_class in rules for violation in rule_class().check(ctx)]
    if not reported:
        return []
    # Positions for what is reported only (and what its fixes replace, for the overlap test): one code-generation
    # pass that records a handful of nodes instead of all of them.
    positions = ctx.positions_of(
        node for _, violation in reported for node in (violation.node, *(violation.fix.changes if violation.fix else ()))
    )
    found: list[_Found] = []
    for rule_class, violation in reported:
        where = positions[violation.node]
        lines = (where.start.line, where.end.line)
        if suppressions.covers(rule_class.code, lines):
            continue
        fix = violation.fix
        diagnostic = Diagnostic(
            code=rule_class.code,
            message=violation.message,
            line=where.start.line,
            column=where.start.column + 1,
            end_line=where.end.line,
            end_column=where.end.column + 1,
            fix_description=fix.description if fix else None,
            fix_safety=fix.safety if fix else None,
        )
        spans = [_span(positions[node]) for node in fix.changes] if fix else []
        found.append(_Found(diagnostic, violation, spans))
    found.sort(key=lambda item: (item.diagnostic.line, item.diagnostic.column, item.diagnostic.code))
    return found


def _span(where: CodeRange) -> tuple[tuple[int, int], tuple[int, int]]:
    return (where.start.line, where.start.column), (where.end.line, where.end.column)


def _non_overlapping(candidates: Iterable[_Found]) -> list[_Found]:
    chosen: list[_Found] = []
    taken: list[tuple[tuple[int, int], tuple[int, int]]] = []
    for found in candidates:
        if any(start < other_end and other_start < end for start, end in found.spans for other_start, other_end in taken):
            continue  # left for the next pass, which sees the repaired tree
        chosen.append(found)
        taken.extend(found.spans)
    return chosen


class _NodeReplacer(cst.CSTTransformer):
    def __init__(self, changes: dict) -> None:
        self.changes = changes

    def on_leave(self, original_node, updated_node):  # type: ignore[override]
        if original_node in self.changes:
            return self.changes[original_node]
        return updated_node


def _apply(ctx: ModuleContext, fixes: list[Fix]) -> cst.Module:
    changes: dict = {}
    for fix in fixes:
        changes.update(fix.changes)
    try:
        new_module = replace_nodes(ctx.module, ctx.node_index, changes)
    except UnsupportedReplacement:  # a removal where libcst holds a single node: its visitor knows what to put there
        new_module = ctx.module.visit(_NodeReplacer(changes))
    imports = [pair for fix in fixes for pair in fix.imports]
    if imports:
        # libcst.codemod costs ~0.15 s to import: only files that need a new import pay for it.
        from libcst.codemod import CodemodContext
        from libcst.codemod.visitors import AddImportsVisitor

        context = CodemodContext()
        for module_name, obj in imports:
            AddImportsVisitor.add_needed_import(context, module_name, obj)
        new_module = AddImportsVisitor(context).transform_module(new_module)
    return new_module
