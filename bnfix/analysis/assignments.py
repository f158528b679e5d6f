"""Every place the module binds a name, found in one walk and shared: the record both `bindings` (where a name got
its value) and `dataflow` (which names a statement binds, to what) read, instead of each collecting targets itself.

An event is recorded for each name an assignment (plain, annotated, augmented), a `for`, `with ... as`,
`except ... as`, walrus, `del`, import, `def`/`class`, parameter, `global` or `nonlocal` binds, in source order.
`obj.attr = ...`, `x[i] += ...` and `del x[i]` bind no name but change the object: they are recorded `in_place`
under the name at the base (`obj`, `x`). What the bound value means is left to the reader.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Iterator

import libcst as cst

from bnfix.analysis.context import ModuleContext
from bnfix.analysis.node_index import NodeIndex

NESTED_SCOPES = (cst.FunctionDef, cst.ClassDef, cst.Lambda, cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)


@dataclass(frozen=True)
class Assignment:
    name: str
    kind: str  # assign, annotated, augmented, for, with, except, except_star, walrus, del, import, def, parameter,
    # global, nonlocal
    node: cst.CSTNode  # what binds: the Assign, For, WithItem, NamedExpr, ImportAlias, FunctionDef, Param...
    target: cst.CSTNode  # the bound Name (for `in_place`, the Name at the base of `x[i]`, `obj.attr`)
    whole_target: cst.CSTNode  # the whole target it sits in (`a, b` of `a, b = ...`; one per `=` of `a = b = ...`)
    path: tuple[tuple[int, int], ...]  # (index, element count) per tuple it sits in: `b` of `a, b` -> ((1, 2),)
    plain: bool  # the whole target is a name or a flat tuple of names without `*`
    in_place: bool
    value: cst.BaseExpression | None  # the right-hand side of an assignment
    scope: cst.CSTNode | None  # the module, or the function/class/lambda/comprehension; None in a `def` header


def assignments(ctx: ModuleContext) -> Assignments:
    """The binding events of this parsed module, shared by `bindings` and `dataflow`."""
    return ctx.shared("assignments", lambda: Assignments(ctx.module, ctx.node_index))


class Assignments:
    def __init__(self, module: cst.Module, index: NodeIndex) -> None:
        collector = _Collector(module, index)
        index.walk(collector)
        self.events: list[Assignment] = collector.events
        self._by_scope: dict[cst.CSTNode | None, list[Assignment]] = {}
        self._by_node: dict[cst.CSTNode, list[Assignment]] = {}
        for event in self.events:
            self._by_scope.setdefault(event.scope, []).append(event)
            self._by_node.setdefault(event.node, []).append(event)
        self._index = index
        # Parameters and `global` name no target inside a statement's range.
        located = [e for e in self.events if e.kind not in ("parameter", "global", "nonlocal")]
        self._by_target = sorted(located, key=lambda e: index.start(e.target))
        self._target_starts = [index.start(e.target) for e in self._by_target]

    def in_scope(self, scope: cst.CSTNode) -> list[Assignment]:
        """The events of `scope` (the module or a function body), in source order."""
        return self._by_scope.get(scope, [])

    def bound_by(self, node: cst.CSTNode) -> list[Assignment]:
        """What `node` (an Assign, AugAssign, FunctionDef...) binds, in source order."""
        return self._by_node.get(node, [])

    def within(self, node: cst.CSTNode) -> list[Assignment]:
        """The events whose target lies inside `node`, nested functions included."""
        first = bisect.bisect_left(self._target_starts, self._index.start(node))
        last = bisect.bisect_left(self._target_starts, self._index.end(node))
        return self._by_target[first:last]


class _Collector(cst.CSTVisitor):
    def __init__(self, module: cst.Module, index: NodeIndex) -> None:
        self.module = module
        self.index = index
        self.events: list[Assignment] = []

    def _record(self, kind: str, node: cst.CSTNode, target: cst.CSTNode, value: cst.BaseExpression | None = None,
                scope: cst.CSTNode | None = None) -> None:
        found = list(_targets(target, ()))
        plain = isinstance(target, cst.Name) or (
            isinstance(target, (cst.Tuple, cst.List))
            and all(type(element) is cst.Element and isinstance(element.value, cst.Name) for element in target.elements)
        )
        owner = scope if scope is not None else self._scope(node)
        for name, path, in_place in found:
            self.events.append(Assignment(name.value, kind, node, name, target, path, plain, in_place, value, owner))

    def _scope(self, node: cst.CSTNode) -> cst.CSTNode | None:
        child = node
        for ancestor in self.index.ancestors(node):
            if isinstance(ancestor, NESTED_SCOPES):
                # Decorators, defaults and annotations run outside the function's body.
                return ancestor if not isinstance(ancestor, cst.FunctionDef) or child is ancestor.body else None
            child = ancestor
        return self.module

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._record("def", node, node.name)
        for param in _parameters(node.params):
            self._record("parameter", param, param.name, scope=node)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._record("def", node, node.name)

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            self._record("assign", node, target.target, node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._record("annotated", node, node.target, node.value)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._record("augmented", node, node.target, node.value)

    def visit_For(self, node: cst.For) -> None:
        self._record("for", node, node.target, node.iter)

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is not None:
            self._record("with", node, node.asname.name, node.item)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._record("walrus", node, node.target, node.value)

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        if node.name is not None:
            self._record("except", node, node.name.name)

    def visit_ExceptStarHandler(self, node: cst.ExceptStarHandler) -> None:
        if node.name is not None:
            self._record("except_star", node, node.name.name)

    def visit_Del(self, node: cst.Del) -> None:
        self._record("del", node, node.target)

    def visit_ImportAlias(self, node: cst.ImportAlias) -> None:
        bound = node.asname.name if node.asname is not None else node.name
        while isinstance(bound, cst.Attribute):  # `import a.b` binds `a`
            bound = bound.value
        self._record("import", node, bound)

    def visit_Global(self, node: cst.Global) -> None:
        for item in node.names:
            self._record("global", node, item.name)

    def visit_Nonlocal(self, node: cst.Nonlocal) -> None:
        for item in node.names:
            self._record("nonlocal", node, item.name)


def _targets(target: cst.CSTNode, path: tuple) -> Iterator[tuple[cst.Name, tuple, bool]]:
    """The names a target binds, each with its place in the tuples, and the bases it changes in place."""
    if isinstance(target, cst.Name):
        yield target, path, False
    elif isinstance(target, (cst.Tuple, cst.List)):
        for i, element in enumerate(target.elements):
            yield from _targets(element.value, (*path, (i, len(target.elements))))
    elif isinstance(target, (cst.Subscript, cst.Attribute)):
        base = target.value
        while isinstance(base, (cst.Subscript, cst.Attribute)):
            base = base.value
        if isinstance(base, cst.Name):
            yield base, path, True


def _parameters(params: cst.Parameters) -> Iterator[cst.Param]:
    yield from params.posonly_params
    yield from params.params
    yield from params.kwonly_params
    for star in (params.star_arg, params.star_kwarg):
        if isinstance(star, cst.Param):
            yield star
