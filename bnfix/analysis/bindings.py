"""Where a name got its value: the last plain assignment before a point, in the same function or in the module.

Straight-line code only. An assignment counts when the block it sits in encloses the point of use, so it has
certainly run; a name last bound in another branch, by a loop, an augmented assignment, a parameter or an
import has no knowable value here, and rules that need one say nothing.

Simple constants (`activation = "relu"`, assigned once in the module or a function and never rebound anywhere,
`global` statements included) are known everywhere they are read after the assignment, in nested functions too.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Iterator

import libcst as cst

from bnfix.analysis.node_index import NodeIndex, walk
from bnfix.analysis.context import ModuleContext

_NESTED_SCOPES = (cst.FunctionDef, cst.ClassDef, cst.Lambda, cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)


@dataclass(frozen=True)
class Binding:
    value: cst.BaseExpression  # the whole right-hand side
    index: int | None  # the name's position in a tuple target (`a, b = ...`); None for `name = value`
    statement: cst.SimpleStatementLine


@dataclass(frozen=True)
class _Event:
    """One place a scope binds a name; `binding` is None when the value is not knowable."""

    effective: int  # NodeIndex order from which uses see the new value
    binding: Binding | None
    block: cst.CSTNode | None  # the block holding the assignment statement


def bindings(ctx: ModuleContext) -> Bindings:
    """The name lookups of this parsed module, shared by every rule."""
    return ctx.shared("bindings", lambda: Bindings(ctx))


class Bindings:
    def __init__(self, ctx: ModuleContext) -> None:
        self.ctx = ctx
        self.index = ctx.node_index
        self._events: dict[int, dict[str, list[_Event]]] = {}

    def scope_of(self, node: cst.CSTNode) -> cst.CSTNode:
        """The function whose body holds `node`, or the module."""
        return next((a for a in self.index.ancestors(node) if isinstance(a, cst.FunctionDef)), self.ctx.module)

    def before(self, name: str, node: cst.CSTNode) -> Binding | None:
        """The value `name` certainly holds when `node` runs, if a plain assignment gave it."""
        scope = self.scope_of(node)
        events = self._scope_events(scope).get(name)
        if not events and isinstance(scope, cst.FunctionDef):
            module_events = self._scope_events(self.ctx.module).get(name, [])
            # Read inside a function, a module-level name could have been rebound before the call: only a name
            # assigned once is certain.
            return module_events[0].binding if len(module_events) == 1 else None
        start = self.index.start(node)
        earlier = [event for event in events or [] if event.effective <= start]
        if not earlier:
            return None
        last = earlier[-1]
        if last.binding is None or last.block is None:
            return None
        return last.binding if last.block in set(self.index.ancestors(node)) else None

    def constant(self, name: cst.Name) -> cst.BaseExpression | None:
        """The literal a read of `name` certainly sees when the name is a simple constant: bound by exactly one plain
        `name = <literal>` in its scope (the function, else the module), never rebound by anything (a second
        assignment, `+=`, a loop, `with ... as`, a parameter, `del`, a `global` statement in some function), and the
        assignment ran before the read. A value that is computed (a call, an operation, another name) is not one."""
        enclosing = list(self.index.ancestors(name))
        if any(isinstance(a, (cst.Lambda, cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)) for a in
               enclosing[: next((i for i, a in enumerate(enclosing) if isinstance(a, cst.FunctionDef)), None)]):
            return None  # a lambda parameter or comprehension variable may shadow it
        scopes = [*(a for a in enclosing if isinstance(a, cst.FunctionDef)), self.ctx.module]
        depth, events = next(((d, self._scope_events(s)[name.value]) for d, s in enumerate(scopes)
                              if self._scope_events(s).get(name.value)), (0, []))
        if len(events) != 1 or name.value in self._global_names:
            return None
        binding = events[0].binding
        if binding is None or binding.index is not None or not _literal(binding.value):
            return None
        if depth == 0:  # read in the scope that assigns it: after the assignment, in a block that encloses the read
            return binding.value if self.before(name.value, name) is binding else None
        # Read in a nested function: the assignment sits at the top of its scope, before the function is defined.
        scope, function = scopes[depth], scopes[depth - 1]
        top_level = events[0].block is (scope.body if isinstance(scope, cst.FunctionDef) else scope)
        return binding.value if top_level and self.index.start(binding.statement) < self.index.start(function) else None

    @cached_property
    def _global_names(self) -> frozenset[str]:
        """Names some function declares `global` (or `nonlocal`): it may rebind them whenever it is called."""
        found: set[str] = set()

        class _Declarations(cst.CSTVisitor):
            def visit_Global(self, node: cst.Global) -> None:
                found.update(item.name.value for item in node.names)

            def visit_Nonlocal(self, node: cst.Nonlocal) -> None:
                found.update(item.name.value for item in node.names)

        self.ctx.module.visit(_Declarations())
        return frozenset(found)

    def _scope_events(self, scope: cst.CSTNode) -> dict[str, list[_Event]]:
        key = id(scope)
        if key not in self._events:
            collector = _BindingCollector(self.index, scope)
            body = scope.body if isinstance(scope, cst.FunctionDef) else scope
            walk(body, collector)
            for events in collector.events.values():
                events.sort(key=lambda event: event.effective)
            self._events[key] = collector.events
        return self._events[key]


class _BindingCollector(cst.CSTVisitor):
    def __init__(self, index: NodeIndex, scope: cst.CSTNode) -> None:
        self.index = index
        self.events: dict[str, list[_Event]] = {}
        if isinstance(scope, cst.FunctionDef):
            for param in _parameters(scope.params):
                self._unknown(param.name.value, scope)

    def _add(self, name: str, event: _Event) -> None:
        self.events.setdefault(name, []).append(event)

    def _unknown(self, name: str, node: cst.CSTNode) -> None:
        self._add(name, _Event(self.index.start(node), None, None))

    def _unknown_targets(self, target: cst.CSTNode, at: cst.CSTNode) -> None:
        for name in _target_names(target):
            self._unknown(name, at)

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, _NESTED_SCOPES):
            if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
                self._unknown(node.name.value, node)
            return False
        return super().on_visit(node)

    def visit_Assign(self, node: cst.Assign) -> None:
        statement = self.index.parent(node)
        effective = self.index.end(node)
        for target in node.targets:
            plain = _plain_targets(target.target)
            for name, position in plain:
                if isinstance(statement, cst.SimpleStatementLine):
                    binding = Binding(node.value, position, statement)
                    self._add(name, _Event(effective, binding, self.index.parent(statement)))
                else:  # `if x: a = 1` on one line
                    self._unknown(name, node)
            if not plain:
                for name in _target_names(target.target):
                    self._add(name, _Event(effective, None, None))

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        statement = self.index.parent(node)
        if isinstance(node.target, cst.Name) and node.value is not None and isinstance(statement, cst.SimpleStatementLine):
            binding = Binding(node.value, None, statement)
            self._add(node.target.value, _Event(self.index.end(node), binding, self.index.parent(statement)))

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._unknown_targets(node.target, node)

    def visit_For(self, node: cst.For) -> None:
        self._unknown_targets(node.target, node)

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is not None:
            self._unknown_targets(node.asname.name, node)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._unknown_targets(node.target, node)

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        if node.name is not None:
            self._unknown_targets(node.name.name, node)

    def visit_Del(self, node: cst.Del) -> None:
        self._unknown_targets(node.target, node)

    def visit_ImportAlias(self, node: cst.ImportAlias) -> None:
        bound = node.asname.name if node.asname is not None else node.name
        while isinstance(bound, cst.Attribute):  # `import a.b` binds `a`
            bound = bound.value
        self._unknown_targets(bound, node)


def _literal(node: cst.BaseExpression) -> bool:
    """A value written out in the source: a string, a number, `None`/`True`/`False`, or a dotted reference such as
    `tf.nn.relu` (naming a function computes nothing)."""
    if isinstance(node, (cst.SimpleString, cst.Integer, cst.Float)):
        return True
    if isinstance(node, cst.Name):
        return node.value in ("None", "True", "False")
    return isinstance(node, cst.Attribute) and isinstance(_attribute_root(node), cst.Name)


def _attribute_root(node: cst.BaseExpression) -> cst.BaseExpression:
    while isinstance(node, cst.Attribute):
        node = node.value
    return node


def _plain_targets(target: cst.BaseExpression) -> list[tuple[str, int | None]]:
    """`x` -> [("x", None)]; `a, b` -> [("a", 0), ("b", 1)]; anything else (starred, nested, attributes) -> []."""
    if isinstance(target, cst.Name):
        return [(target.value, None)]
    if isinstance(target, (cst.Tuple, cst.List)):
        values = [element.value for element in target.elements]
        starred = any(isinstance(element, cst.StarredElement) for element in target.elements)
        if not starred and all(isinstance(value, cst.Name) for value in values):
            return [(value.value, i) for i, value in enumerate(values)]  # type: ignore[union-attr]
    return []


def _target_names(target: cst.CSTNode) -> Iterator[str]:
    if isinstance(target, cst.Name):
        yield target.value
    elif isinstance(target, (cst.Tuple, cst.List)):
        for element in target.elements:
            yield from _target_names(element.value)
    elif isinstance(target, cst.StarredElement):
        yield from _target_names(target.value)


def _parameters(params: cst.Parameters) -> Iterator[cst.Param]:
    yield from params.posonly_params
    yield from params.params
    yield from params.kwonly_params
    for star in (params.star_arg, params.star_kwarg):
        if isinstance(star, cst.Param):
            yield star
