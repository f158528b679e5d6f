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
from typing import Callable, Iterator

import libcst as cst
from libcst import MaybeSentinel

# Class -> the names of its child fields, in the order libcst's own visitor visits them (source order).
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}
# Whitespace, comments and line breaks, and everything they hold (only more of them): over half the nodes of a
# module, and nothing any analysis asks about, so the index leaves them out (`NodeIndex`).
UNINDEXED = frozenset(
    {cst.SimpleWhitespace, cst.ParenthesizedWhitespace, cst.TrailingWhitespace, cst.Newline, cst.EmptyLine, cst.Comment}
)


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
        found = hooks[kind] = _hooks(visitor, kind)
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


def _hooks(visitor: cst.CSTVisitor, kind: type) -> tuple[Callable | None, Callable | None]:
    """The visitor's own `visit_X` and `leave_X` for a node class; None for the no-op that CSTVisitor defines for
    every class (calling those was most of a walk's cost)."""
    return _own_hook(visitor, f"visit_{kind.__name__}"), _own_hook(visitor, f"leave_{kind.__name__}")


def _own_hook(visitor: cst.CSTVisitor, name: str) -> Callable | None:
    method = getattr(type(visitor), name, None)
    if method is None or method is getattr(cst.CSTVisitor, name, None):
        return None
    return getattr(visitor, name)


def all_nodes(node: cst.CSTNode) -> list[cst.CSTNode]:
    """Every node of `node`'s tree, whitespace included, `node` first, in libcst's visiting (source) order."""
    found: list[cst.CSTNode] = []
    _collect(node, found)
    return found


def _collect(node: cst.CSTNode, found: list[cst.CSTNode]) -> None:
    found.append(node)
    for child in children(node):
        _collect(child, found)


class NodeIndex:
    """Every node of a module in source order, with its parent and extent; whitespace, comments and line breaks
    (`UNINDEXED`) left out: they have no parent, start or end here, and a walk replayed from the index calls no
    hook of theirs (a visitor that has one is walked the plain way).

    Nodes are looked up by `id()`: libcst's `CSTNode.__hash__` is a Python method, and hashing each node into four
    dictionaries was a third of building the index. The index keeps every node alive, so no id is reused while
    it exists.
    """

    def __init__(self, module: cst.Module) -> None:
        self._position: dict[int, int] = {}  # id(node) -> its place in `_order`
        self._order: list[cst.CSTNode] = []  # every node, in visiting (source) order
        self._parent_at: list[int] = []  # per place: the parent's place; -1 for the module
        self._start_at: list[int] = []  # per place: the clock when the node was entered...
        self._end_at: list[int] = []  # ... and when it was left (every node inside lies between)
        self._after: list[int] = []  # per place: the place of the first node after its subtree
        self._clock = 0
        self.calls: list[cst.Call] = []
        self.statements: list[cst.SimpleStatementLine] = []
        self.names: list[cst.Name] = []
        self.imports: list[cst.Import | cst.ImportFrom] = []
        self.definitions: list[cst.FunctionDef | cst.ClassDef] = []  # functions and classes, nested ones too
        self.formatted_strings: list[cst.FormattedString] = []
        self._listed = {
            cst.Call: self.calls, cst.Name: self.names, cst.SimpleStatementLine: self.statements,
            cst.Import: self.imports, cst.ImportFrom: self.imports, cst.FunctionDef: self.definitions, cst.ClassDef: self.definitions,
            cst.FormattedString: self.formatted_strings,
        }
        self._index(module, -1)
        del self._listed
        self._call_starts = [self.start(call) for call in self.calls]
        self._name_starts = [self.start(name) for name in self.names]

    def _index(self, node: cst.CSTNode, parent: int) -> None:
        # `children()` inlined: this loop runs once per node of every parsed module.
        position = len(self._order)
        self._position[id(node)] = position
        self._order.append(node)
        self._parent_at.append(parent)
        self._start_at.append(self._clock)
        self._end_at.append(0)
        self._after.append(0)
        self._clock += 1
        kind = type(node)
        listed = self._listed.get(kind)
        if listed is not None:
            listed.append(node)
        for name in _CHILD_FIELDS.get(kind) or child_fields(kind):
            value = getattr(node, name)
            value_kind = type(value)
            if value_kind is tuple or value_kind is list:
                for child in value:
                    if type(child) not in UNINDEXED:
                        self._index(child, position)
            elif value is not None and value_kind is not MaybeSentinel and value_kind not in UNINDEXED:
                self._index(value, position)
        self._end_at[position] = self._clock
        self._clock += 1
        self._after[position] = len(self._order)

    def __contains__(self, node: object) -> bool:
        """Whether `node` is one of the module's indexed nodes."""
        return id(node) in self._position

    def calls_within(self, node: cst.CSTNode) -> list[cst.Call]:
        """The calls inside `node`, `node` itself included, in source order."""
        first = bisect.bisect_left(self._call_starts, self.start(node))
        last = bisect.bisect_left(self._call_starts, self.end(node))
        return self.calls[first:last]

    def names_within(self, node: cst.CSTNode) -> set[str]:
        """`names_in(node)` for a node of this module, from the index instead of a walk."""
        return {name.value for name in self.name_nodes_within(node)}

    def name_nodes_within(self, node: cst.CSTNode) -> list[cst.Name]:
        """Every `Name` inside `node` (`node` itself included), in source order."""
        first = bisect.bisect_left(self._name_starts, self.start(node))
        last = bisect.bisect_left(self._name_starts, self.end(node))
        return self.names[first:last]

    def walk(self, visitor: cst.CSTVisitor, node: cst.CSTNode | None = None) -> None:
        """`walk(node, visitor)` (the whole module by default) replayed from the index: the same `visit_X` and
        `leave_X` calls in the same order, without descending through every node's fields again; only nodes of
        a class the visitor has a hook for cost more than a dictionary look-up."""
        if (
            type(visitor).on_visit is not cst.CSTVisitor.on_visit
            or type(visitor).on_leave is not cst.CSTVisitor.on_leave
            or any(hook is not None for kind in UNINDEXED for hook in _hooks(visitor, kind))
        ):
            walk(node if node is not None else self._order[0], visitor)  # hooks the index cannot replay
            return
        order, after = self._order, self._after
        position = 0 if node is None else self._position[id(node)]
        stop = after[position]
        hooks: dict[type, tuple] = {}
        leaves: list[tuple[int, Callable[[cst.CSTNode], None], cst.CSTNode]] = []  # (subtree end, leave_X, node)
        while position < stop:
            current = order[position]
            while leaves and leaves[-1][0] <= position:
                _, leave, left = leaves.pop()
                leave(left)
            kind = type(current)
            found = hooks.get(kind)
            if found is None:
                found = hooks[kind] = _hooks(visitor, kind)
            visit, leave = found
            end = after[position]
            if leave is not None:
                leaves.append((end, leave, current))
            if visit is not None and visit(current) is False:
                position = end  # its children are skipped; its leave_X still comes
            else:
                position += 1
        while leaves:
            _, leave, left = leaves.pop()
            leave(left)

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        position = self._position.get(id(node))
        if position is None:
            return None
        parent = self._parent_at[position]
        return self._order[parent] if parent >= 0 else None

    def ancestors(self, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
        position = self._position.get(id(node))
        if position is None:
            return
        parent = self._parent_at[position]
        while parent >= 0:
            yield self._order[parent]
            parent = self._parent_at[parent]

    def start(self, node: cst.CSTNode) -> int:
        """Where `node` begins, as a number that sorts in source order."""
        return self._start_at[self._position[id(node)]]

    def end(self, node: cst.CSTNode) -> int:
        """Where `node` ends: every node inside it starts before this, every node after it after this."""
        return self._end_at[self._position[id(node)]]

    def finished_before(self, first: cst.CSTNode, second: cst.CSTNode) -> bool:
        """`first` ends before `second` starts in the source (so, in straight-line code, runs before it)."""
        return self.end(first) < self.start(second)


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
