"""Sequences of layers applied one after another, found in the four shapes Keras code takes, with edits.

- `Sequential([...])` list literals
- runs of consecutive `model.add(...)` statements on one receiver
- functional chains: consecutive `x = Layer(...)(x)` statements on one variable, and nested calls such as
  `Activation("relu")(BatchNormalization()(x))`, activation functions (`tf.nn.relu(x)`) included
- subclassed models: layers assigned to `self.name` in `__init__`, applied in `call`

Every shape offers the same edits, so a rule reasons about layer order once: `swap(i)` exchanges steps i
and i+1, `split_activation(i, j, ...)` removes the fused activation of step i and applies it after step j, and
`remove(i)` drops step i.
Only statements that follow each other in one block form a chain: layers in different `if` branches or loop
bodies never do.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

import libcst as cst

from bnfix.fixes.call_edits import remove_arg, replace_first_arg
from bnfix.analysis.bindings import bindings
from bnfix.analysis.layers import LayerInfo, StepKind, activation_function, classify_constructor
from bnfix.analysis.names import dotted_name

from bnfix.analysis.context import ModuleContext
from bnfix.fixes.fix import Replacement
from bnfix.analysis.node_index import NodeIndex, children

Changes = dict[cst.CSTNode, Replacement]


@dataclass(frozen=True)
class Step:
    info: LayerInfo
    node: cst.CSTNode  # what this step is in its container (list element, statement, or applying call)
    constructor: cst.Call | None  # the layer constructor call, when there is one

    @property
    def kind(self) -> StepKind:
        return self.info.kind


class Chain:
    steps: list[Step]

    def swap(self, i: int) -> Changes | None:
        """Exchange steps i and i+1; None when this chain cannot do it safely."""
        raise NotImplementedError

    def split_activation(self, i: int, j: int, activation_layer: cst.Call) -> Changes | None:
        """Drop step i's fused activation and apply `activation_layer` right after step j."""
        raise NotImplementedError

    def remove(self, i: int) -> Changes | None:
        """Drop step i, its input flowing straight to what follows; None when this chain cannot do it safely."""
        raise NotImplementedError

    def edit_constructor(self, step: Step, new_constructor: cst.Call) -> Changes:
        assert step.constructor is not None
        return {step.constructor: new_constructor}

    def with_constructor_edit(self, changes: Changes, step: Step, new_constructor: cst.Call) -> Changes:
        """`changes` plus replacing `step`'s constructor, inside a replacement that already holds it if one does.

        A nested-call swap (`relu(BN(Dense(...)(x)))`) replaces the whole expression the constructor sits in;
        a separate entry for the constructor would be lost under it.
        """
        assert step.constructor is not None
        merged = dict(changes)
        for key, replacement in changes.items():
            if isinstance(replacement, cst.CSTNode) and _holds(replacement, step.constructor):
                merged[key] = replacement.deep_replace(step.constructor, new_constructor)
                return merged
        merged.update(self.edit_constructor(step, new_constructor))
        return merged


def _holds(tree: cst.CSTNode, node: cst.CSTNode) -> bool:
    stack = [tree]
    while stack:
        current = stack.pop()
        if current is node:
            return True
        stack.extend(children(current))
    return False


def without_activation(step: Step) -> cst.Call:
    assert step.constructor is not None and step.info.activation_arg is not None
    return remove_arg(step.constructor, step.info.activation_arg)


def _trailing(comma: cst.Comma | cst.MaybeSentinel) -> cst.TrailingWhitespace | None:
    """The end-of-line part (spaces, comment, newline) after an element's comma, if the comma ends a line."""
    if isinstance(comma, cst.Comma) and isinstance(comma.whitespace_after, cst.ParenthesizedWhitespace):
        return comma.whitespace_after.first_line
    return None


def _with_trailing(
    comma: cst.Comma | cst.MaybeSentinel, trailing: cst.TrailingWhitespace | None
) -> cst.Comma | cst.MaybeSentinel:
    if trailing is None or _trailing(comma) is None:
        return comma
    assert isinstance(comma, cst.Comma) and isinstance(comma.whitespace_after, cst.ParenthesizedWhitespace)
    return comma.with_changes(whitespace_after=comma.whitespace_after.with_changes(first_line=trailing))


@dataclass
class ListChain(Chain):
    """The layers of a `Sequential([...])` list literal."""

    steps: list[Step]
    elements: Sequence[cst.Element]

    def swap(self, i: int) -> Changes:
        first, second = self.elements[i], self.elements[i + 1]
        # A trailing comment describes its layer, so it travels with it; commas and line breaks stay put.
        return {
            first: first.with_changes(value=second.value, comma=_with_trailing(first.comma, _trailing(second.comma))),
            second: second.with_changes(value=first.value, comma=_with_trailing(second.comma, _trailing(first.comma))),
        }

    def split_activation(self, i: int, j: int, activation_layer: cst.Call) -> Changes:
        target = self.elements[j]
        # The new element sits between `target` and its old comma: copy the layout of a comma that has one.
        separator = self.elements[i].comma
        if not isinstance(separator, cst.Comma):
            separator = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        separator = _with_trailing(separator, cst.TrailingWhitespace())
        if isinstance(separator.whitespace_after, cst.ParenthesizedWhitespace):  # not the comments above the next layer
            separator = separator.with_changes(whitespace_after=separator.whitespace_after.with_changes(empty_lines=()))
        new_element = cst.Element(value=activation_layer, comma=target.comma)
        changes: Changes = {self.elements[i].value: without_activation(self.steps[i])}
        changes[target] = cst.FlattenSentinel([target.with_changes(comma=separator), new_element])
        return changes


    def remove(self, i: int) -> Changes:
        element = self.elements[i]
        if i == len(self.elements) - 1 and i > 0:  # the new last element takes over the removed one's comma
            previous = self.elements[i - 1]
            return {previous: previous.with_changes(comma=element.comma), element: cst.RemovalSentinel.REMOVE}
        return {element: cst.RemovalSentinel.REMOVE}


def _remove_statement(statements: Sequence[cst.SimpleStatementLine], i: int) -> Changes | None:
    """Remove statement i of consecutive `statements`; the comments and blank lines above it move to the next one."""
    removed = statements[i]
    changes: Changes = {removed: cst.RemovalSentinel.REMOVE}
    if not removed.leading_lines:
        return changes
    if i + 1 >= len(statements):
        return None if any(line.comment is not None for line in removed.leading_lines) else changes
    following = statements[i + 1]
    changes[following] = following.with_changes(leading_lines=[*removed.leading_lines, *following.leading_lines])
    return changes


@dataclass
class AddChain(Chain):
    """A run of `model.add(Layer(...))` statements on one receiver."""

    steps: list[Step]
    statements: Sequence[cst.SimpleStatementLine]

    def swap(self, i: int) -> Changes:
        first, second = self.statements[i], self.statements[i + 1]
        # Leading comments and blank lines stay where they are; the statement and its trailing comment move.
        return {
            first: first.with_changes(body=second.body, trailing_whitespace=second.trailing_whitespace),
            second: second.with_changes(body=first.body, trailing_whitespace=first.trailing_whitespace),
        }

    def split_activation(self, i: int, j: int, activation_layer: cst.Call) -> Changes:
        step, target = self.steps[i], self.statements[j]
        assert step.constructor is not None and self.steps[j].constructor is not None
        new_statement = target.deep_replace(self.steps[j].constructor, activation_layer)
        new_statement = new_statement.with_changes(leading_lines=(), trailing_whitespace=cst.TrailingWhitespace())
        return {
            step.constructor: without_activation(step),
            target: cst.FlattenSentinel([target, new_statement]),
        }


    def remove(self, i: int) -> Changes | None:
        return _remove_statement(self.statements, i)


@dataclass
class Application:
    """One step applied inside an expression: `Layer(...)(input)`, `self.layer(input)` or `tf.nn.relu(input)`."""

    step: Step
    call: cst.Call  # the applying call; its first argument is the input
    statement: cst.SimpleStatementLine
    outermost: bool  # the statement's value is this call


@dataclass
class FunctionalChain(Chain):
    """Layers applied to one value through consecutive statements and nested calls."""

    steps: list[Step]
    applications: list[Application]
    scope: cst.CSTNode  # the function or module body, to look for other uses of intermediate names
    name_loads: NameLoads  # the module's, shared by its chains
    target_names: dict[int, str] = field(default_factory=dict)  # statement id -> assigned name

    def swap(self, i: int) -> Changes | None:
        inner, outer = self.applications[i], self.applications[i + 1]
        inner_input = inner.call.args[0].value
        if inner.statement is outer.statement:  # outer(inner(x)) -> inner(outer(x))
            return {outer.call: replace_first_arg(inner.call, replace_first_arg(outer.call, inner_input))}
        if not self._intermediate_private(inner.statement, outer.statement):
            return None
        first, second = replace_first_arg(outer.call, inner_input), replace_first_arg(inner.call, outer.call.args[0].value)
        inner_end, outer_end = inner.statement.trailing_whitespace, outer.statement.trailing_whitespace
        if inner_end.comment is None and outer_end.comment is None:
            return {inner.call: first, outer.call: second}
        # A comment after a layer is about that layer: it moves with it, as a `model.add` line does.
        return {
            inner.statement: inner.statement.deep_replace(inner.call, first).with_changes(trailing_whitespace=outer_end),
            outer.statement: outer.statement.deep_replace(outer.call, second).with_changes(trailing_whitespace=inner_end),
        }

    def split_activation(self, i: int, j: int, activation_layer: cst.Call) -> Changes | None:
        step, target = self.applications[i], self.applications[j]
        if step.step.constructor is None or step.step.constructor is not step.call.func:
            return None  # the constructor lives elsewhere (a subclass's __init__)
        new_constructor = without_activation(step.step)
        wrapped_input = cst.Arg(value=target.call)
        if step.statement is target.statement:
            new_target = target.call.deep_replace(step.step.constructor, new_constructor)
            return {target.call: cst.Call(func=activation_layer, args=[wrapped_input.with_changes(value=new_target)])}
        if not self._intermediate_private(step.statement, target.statement):
            return None  # another layer also reads the activated value: splitting would make its input linear
        changes: Changes = {step.step.constructor: new_constructor}
        name = self.target_names.get(id(target.statement))
        if target.outermost and name is not None:
            new_value = cst.Call(func=activation_layer, args=[cst.Arg(cst.Name(name))])
            new_statement = cst.SimpleStatementLine(body=[cst.Assign([cst.AssignTarget(cst.Name(name))], new_value)])
            changes[target.statement] = cst.FlattenSentinel([target.statement, new_statement])
        else:
            changes[target.call] = cst.Call(func=activation_layer, args=[wrapped_input])
        return changes

    def remove(self, i: int) -> Changes | None:
        application = self.applications[i]
        applied_to = application.call.args[0].value
        name = self.target_names.get(id(application.statement))
        nested = i > 0 and self.applications[i - 1].statement is application.statement
        if not application.outermost or nested or name is None:  # f(layer(g(x))) -> f(g(x)); `return layer(x)`
            return {application.call: applied_to}
        if not (isinstance(applied_to, cst.Name) and applied_to.value == name):
            return None  # `y = layer(x)` would have to become `y = x`
        statements = _statement_run(self.applications)
        return _remove_statement(statements, statements.index(application.statement))

    def _intermediate_private(self, first: cst.SimpleStatementLine, second: cst.SimpleStatementLine) -> bool:
        """Swapping across statements changes what the first one's name holds: only if nothing else reads it."""
        name, next_name = self.target_names.get(id(first)), self.target_names.get(id(second))
        if name is None:
            return False
        if name == next_name:
            return True
        return self.name_loads(self.scope, name) <= 1


def _statement_run(applications: list[Application]) -> list[cst.SimpleStatementLine]:
    """The consecutive statements a functional chain spans, each once, in order."""
    statements: list[cst.SimpleStatementLine] = []
    for application in applications:
        if not statements or statements[-1] is not application.statement:
            statements.append(application.statement)
    return statements


class NameLoads:
    """How often a name is read in a scope (a function, or the module): every `Name` written in it but the target
    of a plain `name = ...`, attribute and keyword names included (the count only needs to err high). Counted from
    the module's node index, each scope once.

    A script that builds its model at module level has every functional chain in the module's scope, and each swap
    across statements asks: a walk of the whole module per swap was most of a check of a 5,000-line file of real
    model code (bench/README.md, session 17).
    """

    def __init__(self, index: NodeIndex) -> None:
        self._index = index
        self._counts: dict[int, Counter[str]] = {}

    def __call__(self, scope: cst.CSTNode, name: str) -> int:
        counts = self._counts.get(id(scope))
        if counts is None:
            index = self._index
            counts = self._counts[id(scope)] = Counter(
                node.value for node in index.name_nodes_within(scope) if not _is_assigned_name(index, node)
            )
        return counts[name]


def _is_assigned_name(index: NodeIndex, name: cst.Name) -> bool:
    """`name` is what `name = ...` assigns."""
    parent = index.parent(name)
    return type(parent) is cst.AssignTarget and parent.target is name


# --------------------------------------------------------------------------------------------- finding chains


def find_chains(ctx: ModuleContext) -> Iterator[Chain]:
    # BNF101, BNF102 and BNF103 walk the same chains: found once per parsed module, not once per rule (finding
    # them three times was a sixth of `check`'s time on Keras scripts, bench/README.md).
    return iter(ctx.shared("chains", lambda: _collect_chains(ctx)))


def _collect_chains(ctx: ModuleContext) -> list[Chain]:
    finder = _ChainFinder(ctx)
    ctx.node_index.walk(finder)
    return finder.chains


Classifier = Callable[[cst.Call], "tuple[Step, cst.BaseExpression] | None"]


class _ChainFinder(cst.CSTVisitor):
    def __init__(self, ctx: ModuleContext) -> None:
        self.ctx = ctx
        self.chains: list[Chain] = []
        self.scopes: list[cst.CSTNode] = [ctx.module]
        self.name_loads = NameLoads(ctx.node_index)
        self.self_layers: list[dict[str, cst.Call]] = [{}]  # per enclosing class: attribute -> constructor
        # Looked up lazily: only an activation given by a name needs the bindings (and the node index under them).
        self._constant = lambda name: bindings(ctx).constant(name)

    def _classify(self, call: cst.Call) -> LayerInfo:
        return classify_constructor(self.ctx.imports, call, self._constant)

    # --- Sequential([...])
    def visit_Call(self, node: cst.Call) -> None:
        name = self.ctx.imports.keras_name(node.func)
        if name not in ("Sequential", "models.Sequential"):
            return
        layers_arg = next((a for a in node.args if a.keyword is None or a.keyword.value == "layers"), None)
        if layers_arg is None or not isinstance(layers_arg.value, (cst.List, cst.Tuple)):
            return
        elements = layers_arg.value.elements
        steps = [self._element_step(element) for element in elements]
        self.chains.append(ListChain(steps, elements))

    def _element_step(self, element: cst.BaseElement) -> Step:
        if isinstance(element, cst.Element) and isinstance(element.value, cst.Call):
            return Step(self._classify(element.value), element.value, element.value)
        return Step(LayerInfo(StepKind.UNKNOWN, None), element, None)

    # --- scopes and subclassed models
    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.self_layers.append(_self_layer_assignments(self.ctx, node))

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.self_layers.pop()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.scopes.append(node)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.scopes.pop()

    # --- statement runs, in every block
    def visit_Module(self, node: cst.Module) -> None:
        self._scan_block(node.body)

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self._scan_block(node.body)

    def _scan_block(self, body: Sequence[cst.BaseStatement]) -> None:
        self._scan_add_runs(body)
        self._scan_functional_runs(body)

    def _scan_add_runs(self, body: Sequence[cst.BaseStatement]) -> None:
        run: list[tuple[cst.SimpleStatementLine, cst.Call]] = []
        receiver: str | None = None
        for statement in [*body, None]:
            added = _added_layer(statement) if statement is not None else None
            if added is not None and (not run or added[0] == receiver):
                receiver = added[0]
                run.append((statement, added[1]))  # type: ignore[arg-type]
                continue
            if len(run) >= 2:
                steps = [Step(self._classify(call), call, call) for _, call in run]
                self.chains.append(AddChain(steps, [s for s, _ in run]))
            run = [(statement, added[1])] if added is not None else []  # type: ignore[list-item]
            receiver = added[0] if added is not None else None

    def _scan_functional_runs(self, body: Sequence[cst.BaseStatement]) -> None:
        applications: list[Application] = []
        names: dict[int, str] = {}
        previous_target: str | None = None
        for statement in [*body, None]:
            parsed = self._functional_statement(statement) if statement is not None else None
            linked = (
                parsed is not None
                and applications
                and previous_target is not None
                and isinstance(parsed[1], cst.Name)
                and parsed[1].value == previous_target
            )
            if not linked:
                if len(applications) >= 2:
                    steps = [a.step for a in applications]
                    chain = FunctionalChain(steps, applications, self.scopes[-1], self.name_loads, dict(names))
                    self.chains.append(chain)
                applications, names = [], {}
            if parsed is None:
                previous_target = None
                continue
            new_applications, _, target = parsed
            applications.extend(new_applications)
            if target is not None:
                names[id(statement)] = target
            previous_target = target

    def _functional_statement(
        self, statement: cst.BaseStatement
    ) -> tuple[list[Application], cst.BaseExpression, str | None] | None:
        """For `t = f(g(h(x)))`: the applications innermost first, the input `x`, and `t`."""
        if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
            return None
        small = statement.body[0]
        target: str | None = None
        if isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name):
            target, value = small.targets[0].target.value, small.value
        elif isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name) and small.value is not None:
            target, value = small.target.value, small.value
        elif isinstance(small, (cst.Return, cst.Expr)) and small.value is not None:
            value = small.value
        else:
            return None
        applications: list[Application] = []
        current = value
        while isinstance(current, cst.Call):
            found = self._application(current)
            if found is None:
                break
            applications.append(Application(found, current, statement, outermost=current is value))
            current = current.args[0].value
        if not applications:
            return None
        applications.reverse()
        return applications, current, target

    def _application(self, call: cst.Call) -> Step | None:
        """The step `call` applies to its first argument, if it is a layer or activation application."""
        if not call.args or call.args[0].keyword is not None or call.args[0].star:
            return None
        func = call.func
        if isinstance(func, cst.Call):  # Layer(...)(x)
            info = self._classify(func)
            return Step(info, func, func) if info.kind is not StepKind.UNKNOWN else None
        attribute = dotted_name(func)
        if attribute is not None and attribute.startswith("self.") and attribute.count(".") == 1:
            constructor = self.self_layers[-1].get(attribute[len("self.") :])
            if constructor is None:
                return None
            # The constructor sits in __init__: the step is applied here but built there.
            return Step(self._classify(constructor), func, constructor)
        activation = activation_function(self.ctx.imports, func)
        if activation is not None and len(call.args) == 1:
            return Step(LayerInfo(StepKind.ACTIVATION, activation, activation), func, None)
        return None


def _added_layer(statement: cst.BaseStatement) -> tuple[str, cst.Call] | None:
    """`model.add(Dense(4))` -> ("model", Dense(4) call)."""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return None
    small = statement.body[0]
    if not (isinstance(small, cst.Expr) and isinstance(small.value, cst.Call)):
        return None
    call = small.value
    if not (isinstance(call.func, cst.Attribute) and call.func.attr.value == "add" and len(call.args) == 1):
        return None
    receiver = dotted_name(call.func.value)
    argument = call.args[0].value
    if receiver is None or not isinstance(argument, cst.Call) or call.args[0].keyword is not None:
        return None
    return receiver, argument


def _self_layer_assignments(ctx: ModuleContext, node: cst.ClassDef) -> dict[str, cst.Call]:
    """`self.bn = BatchNormalization()` in `__init__` (or `build`) -> {"bn": that call}."""
    layers: dict[str, cst.Call] = {}
    for statement in node.body.body:
        if not (isinstance(statement, cst.FunctionDef) and statement.name.value in ("__init__", "build")):
            continue
        for inner in _walk_simple_statements(statement.body):
            for small in inner.body:
                if not isinstance(small, cst.Assign) or len(small.targets) != 1:
                    continue
                name = dotted_name(small.targets[0].target)
                if name and name.startswith("self.") and name.count(".") == 1 and isinstance(small.value, cst.Call):
                    if ctx.imports.keras_layer(small.value.func) is not None:
                        layers[name[len("self.") :]] = small.value
    return layers


def _walk_simple_statements(block: cst.BaseSuite) -> Iterator[cst.SimpleStatementLine]:
    if isinstance(block, cst.IndentedBlock):
        for statement in block.body:
            if isinstance(statement, cst.SimpleStatementLine):
                yield statement
