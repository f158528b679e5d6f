"""Where a model's weights come from: the calls in a module that put trained weights into a model it builds.

A rewrite that moves BatchNormalization, splits a fused activation or drops a bias changes the function a
checkpoint was trained for; the rules ask this analysis whether the layers they would touch belong to a model
that gets weights from elsewhere:

- `model.load_weights(path)` and `model.set_weights(values)` on a model built in the module;
- `model = keras.models.load_model(path)` (or `keras.saving.load_model`) replacing a model built in the module;
- a builder function that loads weights into the model it builds (model-zoo style:
  `def ResNet50(weights="imagenet"): ... if weights: model.load_weights(path)`), including the layers its helper
  block functions build; one that calls a function it is given (keras.applications' `ResNet(stack_fn, ...)`)
  covers every block function of its module, since what it is given may come from any of them;
- a layer constructed with `weights=` (Keras 2's initial weights: a translated checkpoint, layer by layer) covers
  the model that layer is part of;
- a model class of keras_hub, keras_cv or keras_nlp (a `Backbone`): `from_preset` loads a published checkpoint into
  its layers, from wherever the class is defined.

Not a source: weights the module's own `fit` of that model trained before the call (the best epoch reloaded from
a `ModelCheckpoint`), nor a copy of another model's live weights (`target.set_weights(model.get_weights())`).

The model a loading call fills is found through `ModelResolver` (every assignment to its name in the call's
scope). When the call's receiver cannot be resolved (`self.model`, a parameter, an unknown constructor), the
guard is scope-wide: every layer built in the loading function and in the module functions it calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

import libcst as cst

from bnfix.analysis.bindings import Bindings
from bnfix.analysis.context import ModuleContext
from bnfix.analysis.model_layers import FUNCTIONAL, ModelResolver, model_resolver
from bnfix.analysis.names import dotted_name

LOAD_MODEL = frozenset({"models.load_model", "saving.load_model"})
WEIGHT_SETTERS = frozenset({"load_weights", "set_weights"})
FITS = frozenset({"fit", "fit_generator"})


@dataclass(frozen=True)
class WeightSource:
    """One call that gives a model weights it did not learn in this run of the code (or a class whose instances
    get them so: a keras_hub backbone, built from a preset's checkpoint)."""

    call: cst.CSTNode  # the loading call; for a preset architecture, its class
    line: int
    model: str | None  # the dotted name of the model it fills (`model`, `self.net`); None when not written as one
    scope: cst.CSTNode  # the function holding the call, or the module
    covered: frozenset[int]  # ids of the layer constructor calls of the models it fills
    preset_base: str | None = None  # the keras_hub (keras_cv, keras_nlp) class it derives from, for a preset architecture

    def reason(self) -> str:
        """Why the layers' weights come from elsewhere; "(line N)" is the form notebook reports translate."""
        if self.preset_base is not None:
            return f"model is a {self.preset_base} (line {self.line}), whose presets load pretrained weights"
        return f"model loads pretrained weights (line {self.line})"


def weight_sources(ctx: ModuleContext) -> WeightSources:
    return ctx.shared("weight_sources", lambda: WeightSources(ctx))


class WeightSources:
    def __init__(self, ctx: ModuleContext) -> None:
        self.ctx = ctx
        self.sources: list[WeightSource] = []
        calls = [call for call in ctx.node_index.calls if _sets_weights(ctx, call) or _given_weights(call)]
        presets = [(definition, base) for definition in ctx.node_index.definitions if (base := _preset_base(ctx, definition))]
        if not calls and not presets:
            return  # most modules: nothing to resolve
        self.models = model_resolver(ctx)
        self.bindings: Bindings = self.models.bindings
        for definition, base in presets:
            covered = frozenset(id(call) for call in self.models.constructors_in_definitions([definition]))
            line = self.ctx.position(definition.name).start.line
            self.sources.append(WeightSource(definition, line, None, self.bindings.scope_of(definition), covered, base))
        for call in calls:
            if _given_weights(call) and not _sets_weights(ctx, call):
                if self.models.is_layer_constructor(call):  # `Conv2D(..., weights=[kernel])`: a translated checkpoint
                    scope = self.bindings.scope_of(call)
                    line = self.ctx.position(call).start.line
                    self.sources.append(WeightSource(call, line, None, scope, frozenset(self._layers_in_scope(scope))))
            elif not self._copies_live_weights(call) and not self._reloads_own_training(call):
                self.sources.append(self._source(call))

    def for_layers(self, constructors: Iterable[cst.Call | None]) -> WeightSource | None:
        """The first loading call that fills a model holding any of these layer constructor calls."""
        wanted = {id(call) for call in constructors if call is not None}
        return next((source for source in self.sources if wanted & source.covered), None)

    def loaded_into(self, model: str, use: cst.CSTNode) -> WeightSource | None:
        """The loading call before `use`, in its scope, that fills the model named `model` (a dotted name)."""
        if not self.sources:
            return None
        scope = self.bindings.scope_of(use)
        for source in self.sources:
            if source.model == model and source.scope is scope and self.ctx.node_index.finished_before(source.call, use):
                return source
        return None

    # ------------------------------------------------------------------------------------------------ building

    def _source(self, call: cst.Call) -> WeightSource:
        scope = self.bindings.scope_of(call)
        model = _filled_model(self.ctx, call)
        covered = self._layers_of_name(model, scope, call) if model is not None and "." not in model else None
        if covered is None:
            # `load_model` builds a new model from the file: it fills only a built model whose name it takes over.
            fills_in_place = isinstance(call.func, cst.Attribute) and call.func.attr.value in WEIGHT_SETTERS
            covered = self._layers_in_scope(scope) if fills_in_place else set()
        return WeightSource(call, self.ctx.position(call).start.line, model, scope, frozenset(covered))

    def _layers_of_name(self, name: str, scope: cst.CSTNode, call: cst.Call) -> set[int] | None:
        """The layers of the model `name` holds at `call` (see `_assignments`); None if none resolve."""
        resolved: set[int] | None = None
        for statement, value in self._assignments(name, scope, call):
            layers = self.models.layers_of_value(value, name, statement, call)
            if layers is None:
                continue
            resolved = (resolved or set()) | {id(layer) for layer in layers}
            if scope is not self.ctx.module and self._is_functional(value):
                # A functional graph is traced through straight-line assignments only, and model-zoo builders
                # bind their tensors in branches (`if input_tensor is None: img_input = Input(...)`, `if
                # include_top: x = ...`): in a builder function, every layer it builds counts.
                resolved |= self._builder_layers(scope)
        return resolved

    def _assignments(
        self, name: str, scope: cst.CSTNode, call: cst.Call
    ) -> Iterator[tuple[cst.SimpleStatementLine, cst.BaseExpression]]:
        """The assignments that may give `name` its model at `call`: the last one before it in its scope (the module's,
        for a global); when none comes before (`if saved: model = load_model(p) else: model = build()`), all of them.

        Only the last: a notebook rebinds `model` in cell after cell, and a `load_model` in cell 40 replaces the
        model of cell 39, not that of cell 5.
        """
        found = [pair for pair in self._plain_assignments(name) if self.bindings.scope_of(pair[0]) is scope]
        is_parameter = isinstance(scope, cst.FunctionDef) and name in _parameter_names(scope)
        if not found and scope is not self.ctx.module and not is_parameter:  # a global model, loaded in a function
            found = [pair for pair in self._plain_assignments(name) if self.bindings.scope_of(pair[0]) is self.ctx.module]
        index = self.ctx.node_index
        found = [pair for pair in found if pair[1] is not call]  # `model = load_model(...)` itself
        earlier = [pair for pair in found if index.finished_before(pair[0], call)]
        return iter(earlier[-1:] if earlier else found)

    def _plain_assignments(self, name: str) -> Iterator[tuple[cst.SimpleStatementLine, cst.BaseExpression]]:
        for statement in self.ctx.node_index.statements:
            for small in statement.body:
                if isinstance(small, cst.Assign) and len(small.targets) == 1:
                    target = small.targets[0].target
                    if isinstance(target, cst.Name) and target.value == name:
                        yield statement, small.value

    def _layers_in_scope(self, scope: cst.CSTNode) -> set[int]:
        """Every layer built in `scope` and in the module-level functions and classes it refers to, transitively.

        At module level only the module's own statements count: a script's functions are not all one model.
        """
        models: ModelResolver = self.models
        index = self.ctx.node_index
        if scope is self.ctx.module:
            return {
                id(call)
                for call in index.calls
                if models.is_layer_constructor(call) and self.bindings.scope_of(call) is self.ctx.module
            }
        return {id(call) for call in models.constructors_in_definitions([scope])}

    def _builder_layers(self, builder: cst.CSTNode) -> set[int]:
        """The layers of a model a function builds and loads weights into: its own and its helpers' (as
        `_layers_in_scope`), and when it builds around a block it is given (`_calls_a_parameter`), every block
        function of the module. Only for a model built here: loading into a model passed in (a test helper's
        `model.load_weights`) says nothing about the blocks of a model it calls."""
        layers = self._layers_in_scope(builder)
        if self._calls_a_parameter(builder):
            layers |= {id(call) for call in self.models.constructors_in_definitions(list(self.models.definitions.values()))}
        return layers

    def _calls_a_parameter(self, function: cst.CSTNode) -> bool:
        """Whether a builder calls a function it is given: keras.applications' `ResNet(stack_fn, ...)` builds its
        model around `stack_fn(x)` and loads the checkpoint into it, and `ResNet50` (here) or `ResNet50V2` (in
        another module) passes a `stack_fn` that builds every residual block; classification_models' builder calls
        `ResidualBlock = model_params.residual_block` as `ResidualBlock(...)(x)`. What it is given may come from
        any module, so every function and class of this one may build layers of that checkpoint.

        Given: a parameter called (`stack_fn(x)`), a name bound to a parameter's attribute and called, or a
        parameter's attribute called for a block that is then applied (`params.block(64)(x)`); not a method of a
        parameter (`kwargs.get(...)`, `inputs.get_shape()`)."""
        if not isinstance(function, cst.FunctionDef):
            return False
        parameters = _parameter_names(function) - {"self", "cls"}
        for call in self.ctx.node_index.calls_within(function):
            if self.bindings.scope_of(call) is not function:
                continue
            func = call.func
            if isinstance(func, cst.Name):
                if func.value in parameters:
                    return True
                binding = self.bindings.before(func.value, func)
                if binding is not None and binding.index is None and _root_name(binding.value) in parameters:
                    return True
            elif isinstance(func, cst.Call) and _root_name(func.func) in parameters:
                return True
        return False

    def _is_functional(self, value: cst.BaseExpression) -> bool:
        return isinstance(value, cst.Call) and self.ctx.imports.keras_name(value.func) in FUNCTIONAL

    def _reloads_own_training(self, call: cst.Call) -> bool:
        """`model.fit(..., callbacks=[ModelCheckpoint(path)])`, then `model.load_weights(path)` (or `model =
        load_model(path)`): the best epoch of this very run, which a fixed model retrains and saves anew."""
        model = _filled_model(self.ctx, call)
        if model is None:
            return False
        index, scope = self.ctx.node_index, self.bindings.scope_of(call)
        # The fit must be of the model the name holds then: after its last assignment before the call.
        built = [statement for statement, _ in self._assignments(model, scope, call) if index.finished_before(statement, call)]
        return any(
            isinstance(other.func, cst.Attribute) and other.func.attr.value in FITS and dotted_name(other.func.value) == model
            and self.bindings.scope_of(other) is scope and index.finished_before(other, call)
            and all(index.finished_before(statement, other) for statement in built)
            for other in index.calls
        )

    def _copies_live_weights(self, call: cst.Call) -> bool:
        """`target.set_weights(model.get_weights())`, or a snapshot taken with `get_weights()` and put back.

        A DQN's target network, a learning-rate finder that restores its initial weights: the weights come from a
        model built by the same code, which changes with the fix too, so nothing trained elsewhere is invalidated.
        """
        func = call.func
        if not (isinstance(func, cst.Attribute) and func.attr.value == "set_weights"):
            return False
        value = call.args[0].value
        if isinstance(value, cst.Name):
            binding = self.bindings.before(value.value, call)
            value = binding.value if binding is not None and binding.index is None else value
        return isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and value.func.attr.value == "get_weights"


def _sets_weights(ctx: ModuleContext, call: cst.Call) -> bool:
    func = call.func
    if isinstance(func, cst.Attribute) and func.attr.value in WEIGHT_SETTERS:
        return bool(call.args)
    return ctx.imports.keras_name(func) in LOAD_MODEL


# Libraries whose model classes are architectures for published checkpoints: `Backbone.from_preset(...)` builds one
# and loads its preset's weights, from wherever the class is defined.
_PRESET_LIBRARIES = ("keras_hub.", "keras_cv.", "keras_nlp.")


def _preset_base(ctx: ModuleContext, definition: cst.CSTNode) -> str | None:
    """`Backbone` for `class ResNetBackbone(FeaturePyramidBackbone)` with that base from keras_hub's models (or a
    backbone or task of keras_cv, keras_nlp); None for any other class."""
    if not isinstance(definition, cst.ClassDef):
        return None
    for base in definition.bases:
        qualified = ctx.imports.qualified_name(base.value) or ""
        if qualified.startswith(_PRESET_LIBRARIES) and (".models." in qualified or qualified.endswith("Backbone")):
            return f"{qualified.split('.', 1)[0]} {qualified.rsplit('.', 1)[-1]}"
    return None


def _given_weights(call: cst.Call) -> bool:
    """A `weights=` keyword that is not None (Keras 2 layers take their initial weights so)."""
    return any(
        arg.keyword is not None and arg.keyword.value == "weights" and not (isinstance(arg.value, cst.Name) and arg.value.value == "None")
        for arg in call.args
    )


def _root_name(node: cst.BaseExpression) -> str | None:
    """`params` for `params.block.make`; None unless the expression is a dotted name."""
    while isinstance(node, cst.Attribute):
        node = node.value
    return node.value if isinstance(node, cst.Name) else None


def _parameter_names(function: cst.FunctionDef) -> set[str]:
    params = function.params
    every = [*params.posonly_params, *params.params, *params.kwonly_params]
    every += [star for star in (params.star_arg, params.star_kwarg) if isinstance(star, cst.Param)]
    return {param.name.value for param in every}


def _filled_model(ctx: ModuleContext, call: cst.Call) -> str | None:
    """`model` for `model.load_weights(...)` and for `model = load_model(...)`."""
    if isinstance(call.func, cst.Attribute) and call.func.attr.value in WEIGHT_SETTERS:
        return dotted_name(call.func.value)
    parent = ctx.parent(call)
    if isinstance(parent, cst.Assign) and len(parent.targets) == 1:
        return dotted_name(parent.targets[0].target)
    return None
