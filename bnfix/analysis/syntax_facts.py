"""What CPython's own tree says about a module: enough for a rule to rule itself out before libcst parses it.

The text prefilter (the rule catalogue's needles) lets a file through when it merely mentions what a rule looks
for (`training=True`, `trainable = False`, `Normalization`). On keras-team/keras that is 169 files, and 115 of them have no call any rule
could report: a layer, not a model, called with `training=True` in a test. libcst's parse costs 5-10x CPython's,
which the syntax pre-check runs anyway; so each rule may state a necessary condition on this tree
(`Rule.may_report`), and a file none of whose rules pass it is never parsed by libcst.

Every query is conservative: it may keep a file the rule then finds nothing in, never the reverse
(tests/test_syntax_facts.py holds each rule's examples, fixtures and goldens to that; bench/screen_check.py the
real-code corpus).
"""

from __future__ import annotations

import ast
from functools import cached_property
from typing import Iterable, Iterator

def dotted(node: ast.expr) -> str | None:
    """`a.b.c` for a Name/Attribute chain, else None (as `analysis.names.dotted_name` on libcst's tree)."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def is_true(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def is_false(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is False


class SyntaxFacts:
    """One walk over CPython's tree, sorted by node kind; the queries rules need, each computed on first use."""

    def __init__(self, tree: ast.Module) -> None:
        self.calls: list[ast.Call] = []
        self.assignments: list[ast.Assign | ast.AnnAssign | ast.NamedExpr] = []
        self.scopes: list[ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef] = []
        self.fstrings: list[ast.JoinedStr] = []
        self.identifiers: set[str] = set()  # every Name, attribute and imported name
        self._statement_calls: set[int] = set()  # ids of calls that are a whole expression statement
        for node in _walk(tree):
            kind = type(node)
            if kind is ast.Call:
                self.calls.append(node)  # type: ignore[arg-type]
            elif kind is ast.Name:
                self.identifiers.add(node.id)  # type: ignore[attr-defined]
            elif kind is ast.Attribute:
                self.identifiers.add(node.attr)  # type: ignore[attr-defined]
            elif kind is ast.alias:
                self.identifiers.add(node.name.rsplit(".", 1)[-1])  # type: ignore[attr-defined]
            elif kind is ast.Assign or kind is ast.AnnAssign or kind is ast.NamedExpr:
                self.assignments.append(node)  # type: ignore[arg-type]
            elif kind is ast.Expr and type(node.value) is ast.Call:  # type: ignore[attr-defined]
                self._statement_calls.add(id(node.value))  # type: ignore[attr-defined]
            elif kind is ast.FunctionDef or kind is ast.AsyncFunctionDef or kind is ast.ClassDef:
                self.scopes.append(node)  # type: ignore[arg-type]
            elif kind is ast.JoinedStr:
                self.fstrings.append(node)  # type: ignore[arg-type]

    def is_statement(self, call: ast.Call) -> bool:
        """`call(...)` on a line of its own: its result is thrown away."""
        return id(call) in self._statement_calls

    def method_calls(self, names: Iterable[str]) -> list[ast.Call]:
        """Calls `<anything>.name(...)` for any of `names`."""
        wanted = frozenset(names)
        return [call for call in self.calls if isinstance(call.func, ast.Attribute) and call.func.attr in wanted]

    @cached_property
    def names_bound_to_calls(self) -> frozenset[str]:
        """Names assigned the result of a call somewhere (`model = build()`, `a, m = f(), g()`), in any scope."""
        found: set[str] = set()
        for node in self.assignments:
            if not isinstance(node.value, ast.Call):
                if not (isinstance(node.value, ast.Tuple) and any(isinstance(e, ast.Call) for e in node.value.elts)):
                    continue
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                found.update(_target_names(target))
        return frozenset(found)

    def trainable_set_to_false(self) -> frozenset[str]:
        """Dotted owners of `owner.trainable = False` statements."""
        found = set()
        for node in self.assignments:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and is_false(node.value):
                target = node.targets[0]
                if isinstance(target, ast.Attribute) and target.attr == "trainable":
                    owner = dotted(target.value)
                    if owner is not None:
                        found.add(owner)
        return frozenset(found)

    def enclosing_scopes(self, node: ast.expr) -> list[ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef]:
        """The functions and classes whose source span contains `node` (CPython's spans nest exactly)."""
        start, end = (node.lineno, node.col_offset), (node.end_lineno, node.end_col_offset)
        return [
            scope
            for scope in self.scopes
            if (scope.lineno, scope.col_offset) <= start and end <= (scope.end_lineno, scope.end_col_offset)
        ]


def _walk(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node, in no particular order: `ast.walk` without its deque and generator per node, and without the
    `Load`/`Store` context objects (a third of all nodes)."""
    stack = [tree]
    pop, push, extend = stack.pop, stack.append, stack.extend
    node_type = ast.AST
    while stack:
        node = pop()
        yield node
        for name in node._fields:
            if name == "ctx":
                continue
            value = getattr(node, name, None)
            if type(value) is list:
                extend([item for item in value if isinstance(item, node_type)])
            elif isinstance(value, node_type):
                push(value)


def _target_names(target: ast.expr) -> Iterable[str]:
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            yield from _target_names(element)
    elif isinstance(target, ast.Starred):
        yield from _target_names(target.value)
