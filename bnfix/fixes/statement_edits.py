"""Statement-level edits for fixes that insert, remove and move whole statements, composed into one replacement
per statement (the engine's `Fix.changes` maps each original node to exactly one replacement).

A removed statement's comments and blank lines above it are not lost: they move to the next statement that stays,
or, when the statement is moved, they travel with it.
"""

from __future__ import annotations

from typing import Iterable, Mapping

import libcst as cst

from bnfix.analysis.context import ModuleContext
from bnfix.analysis.node_index import names_in
from bnfix.fixes.fix import Replacement


class StatementEdits:
    def __init__(self, ctx: ModuleContext) -> None:
        self.ctx = ctx
        self._inner: dict[cst.BaseStatement, dict[cst.CSTNode, cst.CSTNode]] = {}
        self._removed: dict[cst.BaseStatement, bool] = {}  # statement -> keep its comments in place
        self._before: dict[cst.BaseStatement, list[cst.BaseStatement]] = {}
        self._after: dict[cst.BaseStatement, list[cst.BaseStatement]] = {}
        self._impossible = False

    def statement_of(self, node: cst.CSTNode) -> cst.SimpleStatementLine | None:
        for candidate in [node, *self.ctx.ancestors(node)]:
            if isinstance(candidate, cst.SimpleStatementLine):
                return candidate
        return None

    def replace(self, old: cst.CSTNode, new: cst.CSTNode) -> None:
        statement = self.statement_of(old)
        if statement is None:  # in the header of an `if`, `for`, `with`...: not an edit this class makes
            self._impossible = True
            return
        self._inner.setdefault(statement, {})[old] = new

    def remove(self, statement: cst.BaseStatement, keep_comments: bool = True) -> None:
        self._removed[statement] = keep_comments

    def insert_before(self, statement: cst.BaseStatement, new: Iterable[cst.BaseStatement]) -> None:
        self._before.setdefault(statement, []).extend(new)

    def insert_after(self, statement: cst.BaseStatement, new: Iterable[cst.BaseStatement]) -> None:
        self._after.setdefault(statement, []).extend(new)

    def changes(self) -> Mapping[cst.CSTNode, Replacement] | None:
        """The replacements, or None when the edits would leave a block empty or touch a compound header."""
        if self._impossible:
            return None
        carried: dict[cst.BaseStatement, list[cst.EmptyLine]] = {}
        for statement, keep_comments in self._removed.items():
            if self._after.get(statement) or self._before.get(statement) or not keep_comments:
                continue
            body = list(_body(self.ctx, statement))
            following = body[body.index(statement) + 1 :]
            survivor = next((s for s in following if s not in self._removed), None)
            if survivor is None:
                if all(s in self._removed for s in body):
                    return None
                continue
            carried.setdefault(survivor, []).extend(statement.leading_lines)
        touched = {*self._inner, *self._removed, *self._before, *self._after, *carried}
        result: dict[cst.CSTNode, Replacement] = {}
        for statement in touched:
            new: cst.BaseStatement = statement
            if statement in self._inner:
                new = new.visit(_Replacer(self._inner[statement]))  # type: ignore[assignment]
            if statement in carried:
                new = new.with_changes(leading_lines=[*carried[statement], *new.leading_lines])
            before = list(self._before.get(statement, []))
            if before and statement not in self._removed:  # the comments above now introduce the inserted lines
                before[0] = before[0].with_changes(leading_lines=[*new.leading_lines, *before[0].leading_lines])
                new = new.with_changes(leading_lines=[])
            kept = [] if statement in self._removed else [new]
            sequence = [*before, *kept, *self._after.get(statement, [])]
            if not sequence:
                result[statement] = cst.RemovalSentinel.REMOVE
            elif len(sequence) == 1:
                result[statement] = sequence[0]
            else:
                result[statement] = cst.FlattenSentinel(sequence)
        return result


def _body(ctx: ModuleContext, statement: cst.BaseStatement) -> tuple[cst.BaseStatement, ...]:
    parent = ctx.parent(statement)
    return parent.body if isinstance(parent, (cst.Module, cst.IndentedBlock)) else (statement,)


class _Replacer(cst.CSTTransformer):
    def __init__(self, changes: Mapping[cst.CSTNode, cst.CSTNode]) -> None:
        self.changes = changes

    def on_leave(self, original_node, updated_node):  # type: ignore[override]
        return self.changes.get(original_node, updated_node)


def parse_statement(ctx: ModuleContext, code: str) -> cst.SimpleStatementLine:
    statement = cst.parse_statement(code, config=ctx.module.config_for_parsing)
    assert isinstance(statement, cst.SimpleStatementLine)
    return statement


def name_reads(scope: cst.CSTNode, name: str) -> list[cst.Name]:
    """Every place `scope` reads `name` (assignment targets, attributes, keywords and parameters are not reads)."""
    reads = _Reads(name)
    scope.visit(reads)
    return reads.found


class _Reads(cst.CSTVisitor):
    def __init__(self, name: str) -> None:
        self.name = name
        self.found: list[cst.Name] = []

    def visit_Name(self, node: cst.Name) -> None:
        if node.value == self.name:
            self.found.append(node)

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        node.value.visit(self)
        return False

    def visit_Arg(self, node: cst.Arg) -> bool:
        node.value.visit(self)
        return False

    def visit_Param(self, node: cst.Param) -> bool:
        for part in (node.annotation, node.default):
            if part is not None:
                part.visit(self)
        return False

    def _target(self, target: cst.CSTNode) -> None:
        if isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self._target(element.value)
        elif isinstance(target, cst.StarredElement):
            self._target(target.value)
        elif not isinstance(target, cst.Name):
            target.visit(self)  # `x[0] = ...` and `x.a = ...` read x

    def visit_AssignTarget(self, node: cst.AssignTarget) -> bool:
        self._target(node.target)
        return False

    def visit_AnnAssign(self, node: cst.AnnAssign) -> bool:
        self._target(node.target)
        if node.value is not None:
            node.value.visit(self)
        return False

    def visit_For(self, node: cst.For) -> bool:
        self._target(node.target)
        for part in (node.iter, node.body, node.orelse):
            if part is not None:
                part.visit(self)
        return False

    def visit_AsName(self, node: cst.AsName) -> bool:
        return False

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        for part in (node.params, node.body, *node.decorators):
            part.visit(self)
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        node.body.visit(self)
        return False

    def visit_Import(self, node: cst.Import) -> bool:
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        return False


class TakenNames:
    """The names a module uses, collected on first need; every name handed out is taken from then on."""

    def __init__(self, module: cst.Module) -> None:
        self.module = module
        self._names: set[str] | None = None

    def fresh(self, wanted: str) -> str:
        if self._names is None:
            self._names = names_in(self.module)
        name = fresh_name(wanted, self._names)
        self._names.add(name)
        return name


def fresh_name(wanted: str, taken: set[str]) -> str:
    """`wanted`, or `wanted_2`, `wanted_3`... when a name in the module already has it."""
    if wanted not in taken:
        return wanted
    suffix = 2
    while f"{wanted}_{suffix}" in taken:
        suffix += 1
    return f"{wanted}_{suffix}"
