"""Where a name got its value: the last plain assignment before a point, in the same function or in the module.

Straight-line code only. An assignment counts when the block it sits in encloses the point of use, so it has
certainly run; a name last bound in another branch, by a loop, an augmented assignment, a parameter or an
import has no knowable value here, and rules that need one say nothing.

Simple constants (`activation = "relu"`, assigned once in the module or a function and never rebound anywhere,
`global` statements included) are known everywhere they are read after the assignment, in nested functions too.

The binding events come from the record `bnfix.analysis.assignments` shares with the data flow; `_event` says
what each one means here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import libcst as cst

from bnfix.analysis.assignments import Assignment, assignments
from bnfix.analysis.context import ModuleContext


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

    def branch_values(self, name: str, node: cst.CSTNode) -> tuple[cst.If, cst.BaseExpression, cst.BaseExpression] | None:
        """`if test: name = a` / `else: name = b`, each branch that one statement, the only bindings of `name` in the
        scope of `node` before it: (the `if`, a, b). `before` gives None there, since neither value is certain."""
        start = self.index.start(node)
        events = [event for event in self._scope_events(self.scope_of(node)).get(name, []) if event.effective <= start]
        if len(events) != 2 or any(event.binding is None or event.binding.index is not None for event in events):
            return None
        body, other = events[0].block, events[1].block
        statement, orelse = self.index.parent(body), self.index.parent(other)  # type: ignore[arg-type]
        if not isinstance(statement, cst.If) or not isinstance(orelse, cst.Else) or statement.orelse is not orelse:
            return None
        if len(statement.body.body) != 1 or len(orelse.body.body) != 1 or not self.index.finished_before(statement, node):
            return None
        return statement, events[0].binding.value, events[1].binding.value  # type: ignore[union-attr]

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
        return frozenset(a.name for a in assignments(self.ctx).events if a.kind in ("global", "nonlocal"))

    def _scope_events(self, scope: cst.CSTNode) -> dict[str, list[_Event]]:
        key = id(scope)
        if key not in self._events:
            events: dict[str, list[_Event]] = {}
            for assignment in assignments(self.ctx).in_scope(scope):
                event = self._event(assignment)
                if event is not None:
                    events.setdefault(assignment.name, []).append(event)
            for found in events.values():
                found.sort(key=lambda event: event.effective)
            self._events[key] = events
        return self._events[key]

    def _event(self, assignment: Assignment) -> _Event | None:
        """What a binding means here: a known value for `name = value` (or `a, b = value`) on a line of its own,
        an unknown one for every other way of binding a name; nothing for what binds no name here."""
        kind, node = assignment.kind, assignment.node
        if assignment.in_place or kind in ("global", "nonlocal", "except_star"):
            return None
        if kind == "parameter":
            return _Event(self.index.start(assignment.scope), None, None)  # type: ignore[arg-type]
        statement = self.index.parent(node)
        on_its_line = isinstance(statement, cst.SimpleStatementLine)
        if kind == "assign" and assignment.plain:
            if not on_its_line:  # `if x: a = 1` on one line
                return _Event(self.index.start(node), None, None)
            position = assignment.path[0][0] if assignment.path else None
            binding = Binding(assignment.value, position, statement)  # type: ignore[arg-type]
            return _Event(self.index.end(node), binding, self.index.parent(statement))  # type: ignore[arg-type]
        if kind == "assign":
            return _Event(self.index.end(node), None, None)
        if kind == "annotated":
            known = isinstance(assignment.whole_target, cst.Name) and assignment.value is not None and on_its_line
            if not known:
                return None
            binding = Binding(assignment.value, None, statement)  # type: ignore[arg-type]
            return _Event(self.index.end(node), binding, self.index.parent(statement))  # type: ignore[arg-type]
        return _Event(self.index.start(node), None, None)


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
