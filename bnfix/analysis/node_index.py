"""One traversal of a parsed module, shared by every rule that asks about it: parents, source order, calls.

The BNF2xx/BNF3xx rules ask "what encloses this?", "which comes first?" and "where are the calls?" many times,
so they ask this index, built once per parsed module (`ModuleContext.node_index`), instead of walking again.

It is built by a plain loop over each node's child fields, not by `module.visit`: libcst's visitor rebuilds
(and re-validates) every node it passes, and its `ParentNodeProvider` adds its metadata machinery on top; on
keras-team/keras the loop costs a fifth of the visit and a twelfth of the provider (bench/README.md).
`walk` gives any read-only `CSTVisitor` the same loop.
"""

from __future__ import annotations

import bisect
from typing import Iterator

import libcst as cst
from libcst import MaybeSentinel

# Class -> the names of its child fields, in the order libcst's own visitor visits them (source order).
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}


def child_fields(node_class: type) -> tuple[str, ...]:
    """The fields `node_class._visit_and_replace_children` visits, in its order.

    Dataclass field order is not source order (`FunctionDef` declares `decorators` after `body`), so the order
    is read from the visiting method itself: each field it visits is named there as a string literal
    (`visit_required(self, "func", self.func, visitor)`), and a code object keeps its constants in the order
    they first appear. tests/test_node_index.py checks the result against libcst's visitor on real code.
    """
    fields = _CHILD_FIELDS.get(node_class)
    if fields is None:
        names = set(getattr(node_class, "__dataclass_fields__", ()))
        constants = node_class._visit_and_replace_children.__code__.co_consts
        fields = tuple(dict.fromkeys(constant for constant in constants if isinstance(constant, str) and constant in names))
        _CHILD_FIELDS[node_class] = fields
    return fields


def children(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """The direct children of `node` in source order, as `node.children` gives them, without rebuilding `node`."""
    # Plain type tests: `isinstance(value, cst.CSTNode)` goes through ABCMeta, which would dominate the loop.
    for name in child_fields(type(node)):
        value = getattr(node, name)
        kind = type(value)
        if kind is tuple or kind is list:
            yield from value
        elif value is not None and kind is not MaybeSentinel:
            yield value


def walk(node: cst.CSTNode, visitor: cst.CSTVisitor) -> None:
    """`node.visit(visitor)` for a visitor that only reads: `on_visit` (and so `visit_X`, which may return False
    to skip the children) and `on_leave` (`leave_X`) in the same order. The per-attribute hooks
    (`visit_X_attr`) are not called."""
    if type(visitor).on_visit is cst.CSTVisitor.on_visit and type(visitor).on_leave is cst.CSTVisitor.on_leave:
        _walk_hooks(node, visitor, {})  # the usual case: look each node class's hooks up once, not per node
    else:
        _walk_generic(node, visitor)


def _walk_generic(node: cst.CSTNode, visitor: cst.CSTVisitor) -> None:
    if visitor.on_visit(node):
        for name in _CHILD_FIELDS.get(type(node)) or child_fields(type(node)):
            value = getattr(node, name)
            kind = type(value)
            if kind is tuple or kind is list:
                for child in value:
                    _walk_generic(child, visitor)
            elif value is not None and kind is not MaybeSentinel:
                _walk_generic(value, visitor)
    visitor.on_leave(node)


def _walk_hooks(node: cst.CSTNode, visitor: cst.CSTVisitor, hooks: dict) -> None:
    """What `CSTVisitor.on_visit`/`on_leave` do, with `visit_X`/`leave_X` found once per node class."""
    kind = type(node)
    found = hooks.get(kind)
    if found is None:
        found = hooks[kind] = (getattr(visitor, f"visit_{kind.__name__}", None), getattr(visitor, f"leave_{kind.__name__}", None))
    visit, leave = found
    if visit is None or visit(node) is not False:
        for name in _CHILD_FIELDS.get(kind) or child_fields(kind):
            value = getattr(node, name)
            value_kind = type(value)
            if value_kind is tuple or value_kind is list:
                for child in value:
                    _walk_hooks(child, visitor, hooks)
            elif value is not None and value_kind is not MaybeSentinel:
                _walk_hooks(value, visitor, hooks)
    if leave is not None:
        leave(node)


class NodeIndex:
    def __init__(self, module: cst.Module) -> None:
        self._parents: dict[cst.CSTNode, cst.CSTNode] = {}
        self._start: dict[cst.CSTNode, int] = {}
        self._end: dict[cst.CSTNode, int] = {}
        self._clock = 0
        self.calls: list[cst.Call] = []
        self.statements: list[cst.SimpleStatementLine] = []
        self._index(module)
        self._call_starts = [self._start[call] for call in self.calls]

    def _index(self, node: cst.CSTNode) -> None:
        # `children()` inlined: this loop runs once per node of every parsed module.
        self._start[node] = self._clock
        self._clock += 1
        kind = type(node)
        if kind is cst.Call:
            self.calls.append(node)  # type: ignore[arg-type]
        elif kind is cst.SimpleStatementLine:
            self.statements.append(node)  # type: ignore[arg-type]
        parents = self._parents
        fields = _CHILD_FIELDS.get(kind) or child_fields(kind)
        for name in fields:
            value = getattr(node, name)
            value_kind = type(value)
            if value_kind is tuple or value_kind is list:
                for child in value:
                    parents[child] = node
                    self._index(child)
            elif value is not None and value_kind is not MaybeSentinel:
                parents[value] = node
                self._index(value)
        self._end[node] = self._clock
        self._clock += 1

    def calls_within(self, node: cst.CSTNode) -> list[cst.Call]:
        """The calls inside `node`, `node` itself included, in source order."""
        first = bisect.bisect_left(self._call_starts, self._start[node])
        last = bisect.bisect_left(self._call_starts, self._end[node])
        return self.calls[first:last]

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        return self._parents.get(node)

    def ancestors(self, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
        current = self._parents.get(node)
        while current is not None:
            yield current
            current = self._parents.get(current)

    def start(self, node: cst.CSTNode) -> int:
        """Where `node` begins, as a number that sorts in source order."""
        return self._start[node]

    def end(self, node: cst.CSTNode) -> int:
        """Where `node` ends: every node inside it starts before this, every node after it after this."""
        return self._end[node]

    def finished_before(self, first: cst.CSTNode, second: cst.CSTNode) -> bool:
        """`first` ends before `second` starts in the source (so, in straight-line code, runs before it)."""
        return self._end[first] < self._start[second]


class _NameCollector(cst.CSTVisitor):
    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_Name(self, node: cst.Name) -> None:
        self.names.add(node.value)


def names_in(node: cst.CSTNode) -> set[str]:
    """Every identifier written anywhere in `node`: what a new name must not collide with, what a statement reads."""
    collector = _NameCollector()
    walk(node, collector)
    return collector.names
