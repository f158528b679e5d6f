"""Which layers (BatchNormalization, Dropout, any) a model holds, found by following its name back to its definition.

Four definitions are understood: `Sequential([...])` (plus later `model.add(...)` calls), functional
`Model(inputs, outputs)` (the expressions `outputs` depends on, followed through plain assignments, and the
block-building functions they call, transitively), an instance of a class defined in the module, and the return
value of a function defined in the module. Anything else (`load_model`, an argument, an import) is an unknown
model: None, and the rules that ask say nothing.
"""

from __future__ import annotations

from typing import Iterator

import libcst as cst

from bnfix.analysis.bindings import bindings
from bnfix.analysis.calls import keyword_arg, positional_args
from bnfix.analysis.layers import BN_LAYERS

from bnfix.analysis.context import ModuleContext
from bnfix.analysis.node_index import NodeIndex, children

SEQUENTIAL = frozenset({"Sequential", "models.Sequential"})
# `Functional` is what keras.applications' own builders call.
FUNCTIONAL = frozenset({"Model", "models.Model", "Functional", "models.Functional"})
INPUTS = frozenset({"Input", "layers.Input"})
MAX_DEPTH = 8  # nested definitions followed (a factory returning a model built from another model...)
MAX_TRACED = 500  # expressions followed back from a functional model's outputs


def model_resolver(ctx: ModuleContext) -> ModelResolver:
    return ctx.shared("model_resolver", lambda: ModelResolver(ctx))


class ModelResolver:
    def __init__(self, ctx: ModuleContext) -> None:
        self.ctx = ctx
        self.bindings = bindings(ctx)
        self.index = ctx.node_index
        self._referred: dict[int, set[str]] = {}  # definition id -> the names it reads (`referred_names`)
        self.definitions = {
            statement.name.value: statement
            for statement in ctx.module.body
            if isinstance(statement, (cst.FunctionDef, cst.ClassDef))
        }

    def bn_layers(self, model: cst.BaseExpression) -> list[cst.Call] | None:
        """The BatchNormalization constructor calls of the model `model` names here; None if unknown."""
        layers = self.layers(model)
        return None if layers is None else [call for call in layers if self.is_bn_constructor(call)]

    def layers(self, model: cst.BaseExpression) -> list[cst.Call] | None:
        """Every Keras layer constructor call of the model `model` names here, in source order; None if unknown."""
        if not isinstance(model, cst.Name):
            return None
        binding = self.bindings.before(model.value, model)
        if binding is None or binding.index is not None:
            return None
        return self._from_value(binding.value, model.value, binding.statement, model, 0)

    def layers_of_value(
        self, value: cst.BaseExpression, name: str, statement: cst.CSTNode, use: cst.CSTNode | None = None
    ) -> list[cst.Call] | None:
        """The layer constructor calls of the model `name = value` (in `statement`) holds at `use`; None if unknown.

        `name.add(...)` calls between the two count; without `use`, only the definition does.
        """
        return self._from_value(value, name, statement, use if use is not None else statement, 0)

    def certainly_without_bn(self, model: cst.BaseExpression) -> bool:
        """Whether the model `model` names is built here, from known parts only, none of them BN (`bn_free`)."""
        from bnfix.analysis.bn_free import certainly_without_bn

        return certainly_without_bn(self, model)

    def is_bn_constructor(self, call: cst.Call) -> bool:
        return self.ctx.imports.keras_layer(call.func) in BN_LAYERS

    def is_layer_constructor(self, call: cst.Call) -> bool:
        return self.ctx.imports.keras_layer(call.func) is not None

    def is_symbolic(self, expr: cst.BaseExpression) -> bool:
        """Whether `expr` is a functional-API tensor: it depends, through names, on a `keras.Input(...)`."""
        seen: set[int] = set()
        work: list[cst.CSTNode] = [expr]
        while work and len(seen) < MAX_TRACED:
            node = work.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if any(self.ctx.imports.keras_name(call.func) in INPUTS for call in self.index.calls_within(node)):
                return True
            for name in loaded_names(node):
                binding = self.bindings.before(name.value, name)
                if binding is not None:
                    work.append(binding.value)
        return False

    def _from_value(
        self, value: cst.BaseExpression, name: str | None, statement: cst.CSTNode, use: cst.CSTNode, depth: int
    ) -> list[cst.Call] | None:
        if not isinstance(value, cst.Call) or depth > MAX_DEPTH:
            return None
        kind = self.ctx.imports.keras_name(value.func)
        if kind in SEQUENTIAL:
            added = self.added_layers(name, statement, use) if name else []
            return self._traced([value, *added])
        if kind in FUNCTIONAL:
            positional = positional_args(value)
            outputs = keyword_arg(value, "outputs") or (positional[1] if len(positional) > 1 else None)
            return None if outputs is None else self._traced([outputs.value])
        definition = self.definitions.get(value.func.value) if isinstance(value.func, cst.Name) else None
        if isinstance(definition, cst.ClassDef) and definition.bases:
            return self.constructors_in_definitions([definition])
        if isinstance(definition, cst.FunctionDef):
            return self._returned(definition, depth + 1)
        return None

    def _returned(self, function: cst.FunctionDef, depth: int) -> list[cst.Call] | None:
        returns = list(_returns(function.body))
        if len(returns) != 1 or returns[0].value is None:
            return None
        value = returns[0].value
        if isinstance(value, cst.Name):
            binding = self.bindings.before(value.value, value)
            if binding is None or binding.index is not None:
                return None
            return self._from_value(binding.value, value.value, binding.statement, value, depth)
        return self._from_value(value, None, returns[0], value, depth)

    def added_layers(self, name: str, statement: cst.CSTNode, use: cst.CSTNode) -> list[cst.BaseExpression]:
        """The arguments of `name.add(...)` calls in the model's scope, between its definition and `use`."""
        scope = self.bindings.scope_of(statement)
        added = []
        for call in self.index.calls:
            func = call.func
            if not (isinstance(func, cst.Attribute) and func.attr.value == "add" and call.args):
                continue
            if not (isinstance(func.value, cst.Name) and func.value.value == name):
                continue
            if self.index.finished_before(statement, call) and self.index.finished_before(call, use):
                if self.bindings.scope_of(call) is scope:
                    added.append(call.args[0].value)
        return added

    def _traced(self, roots: list[cst.BaseExpression]) -> list[cst.Call]:
        """Layer constructors in `roots` and in everything they depend on through names."""
        found: dict[int, cst.Call] = {}
        seen: set[int] = set()
        helpers: list[cst.CSTNode] = []
        work = list(roots)
        while work and len(seen) < MAX_TRACED:
            expr = work.pop()
            if id(expr) in seen:
                continue
            seen.add(id(expr))
            found.update((id(call), call) for call in self._constructors(expr))
            for name in loaded_names(expr):
                binding = self.bindings.before(name.value, name)
                if binding is not None:
                    work.append(binding.value)
                    if isinstance(binding.value, cst.Call) and self.ctx.imports.keras_name(binding.value.func) in SEQUENTIAL:
                        work.extend(self.added_layers(name.value, binding.statement, name))
                elif name.value in self.definitions:  # a block-building function or a layer class
                    helpers.append(self.definitions[name.value])
        found.update((id(call), call) for call in self.constructors_in_definitions(helpers))
        return sorted(found.values(), key=self.index.start)

    def constructors_in_definitions(self, definitions: list[cst.CSTNode]) -> list[cst.Call]:
        """Layer constructors in module-level functions and classes, and in the ones they refer to, transitively.

        Model-zoo code builds a network from block functions that call other block functions
        (`ResNet50` -> `stack` -> `block`): the layers of the innermost block are the model's too.
        """
        found: list[cst.Call] = []
        done: set[int] = set()
        work = list(definitions)
        while work:
            definition = work.pop()
            if id(definition) in done:
                continue
            done.add(id(definition))
            found.extend(self._constructors(definition))
            work.extend(self.definitions[name] for name in self.referred_names(definition) if name in self.definitions)
        return found

    def referred_names(self, definition: cst.CSTNode) -> set[str]:
        """The names a definition reads anywhere in it, nested functions and lambdas included: every `Name` but an
        attribute's (`layers.Dense`'s `Dense`) or a keyword's (`axis=`). From the node index, once per definition."""
        found = self._referred.get(id(definition))
        if found is None:
            index = self.index
            found = self._referred[id(definition)] = {
                name.value for name in index.name_nodes_within(definition) if not _names_an_attribute_or_keyword(index, name)
            }
        return found

    def _constructors(self, node: cst.CSTNode) -> list[cst.Call]:
        return [call for call in self.index.calls_within(node) if self.is_layer_constructor(call)]


def _returns(block: cst.CSTNode) -> Iterator[cst.Return]:
    """The `return` statements of a function body, not of functions nested in it."""
    if isinstance(block, cst.SimpleStatementSuite):  # `if x: return y` on one line
        yield from (small for small in block.body if isinstance(small, cst.Return))
        return
    for statement in getattr(block, "body", ()):
        if isinstance(statement, cst.SimpleStatementLine):
            yield from (small for small in statement.body if isinstance(small, cst.Return))
        elif isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
            continue
        elif isinstance(statement, cst.BaseCompoundStatement):
            yield from _returns(statement.body)
            orelse = getattr(statement, "orelse", None)
            while orelse is not None:  # `else` / `elif` chains
                yield from _returns(orelse.body)
                orelse = getattr(orelse, "orelse", None)
            for handler in getattr(statement, "handlers", ()):
                yield from _returns(handler.body)
            final = getattr(statement, "finalbody", None)
            if final is not None:
                yield from _returns(final.body)


def _names_an_attribute_or_keyword(index: NodeIndex, name: cst.Name) -> bool:
    parent = index.parent(name)
    return (type(parent) is cst.Attribute and parent.attr is name) or (type(parent) is cst.Arg and parent.keyword is name)


def loaded_names(expr: cst.CSTNode) -> Iterator[cst.Name]:
    """Names read in `expr`, not in lambdas, functions and classes nested in it: not attribute names
    (`layers.Dense`'s `Dense`) or keyword names (`axis=`)."""
    skipped = (cst.Lambda, cst.FunctionDef, cst.ClassDef)
    stack: list[cst.CSTNode] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.Name):
            yield node
        elif isinstance(node, cst.Attribute):
            stack.append(node.value)
        elif isinstance(node, cst.Arg):
            stack.append(node.value)
        elif not isinstance(node, skipped):
            stack.extend(children(node))
