"""BNF301 and BNF302: models called in the wrong mode (`training=`) for what the call is for."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Iterator

import libcst as cst

from bnfix.analysis.calls import keyword_arg, positional_args
from bnfix.fixes.call_edits import remove_arg, set_keyword
from bnfix.analysis.model_layers import ModelResolver, loaded_names, model_resolver
from bnfix.analysis.node_index import NodeIndex
from bnfix.analysis.pretrained_bases import PretrainedBase, pretrained_base
from bnfix.analysis.names import dotted_name
from bnfix.analysis.context import ModuleContext
from bnfix.analysis.syntax_facts import SyntaxFacts, dotted, is_true
from bnfix.fixes.fix import Fix
from bnfix.fixes.safety import FixSafety
from bnfix.rules.base import Invalid, Rule, Valid, Violation

_HEADER = "import numpy as np\nimport tensorflow as tf\nfrom tensorflow import keras\nfrom tensorflow.keras import layers\n"
_MODEL = "model = keras.Sequential([layers.Dense(8), layers.BatchNormalization(), layers.Dense(1)])\n"
# Models without BN: in training mode they only drop units (the keras-io guide that teaches the flag).
_DROPOUT_ONLY_LAYER = """\
class MLP(keras.layers.Layer):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(32)
        self.dropout = keras.layers.Dropout(0.5)

    def call(self, inputs, training=None):
        return self.dropout(tf.nn.relu(self.dense(inputs)), training=training)


"""
_DROPOUT_ONLY_FUNCTIONAL = "inputs = keras.Input(shape=(16,))\noutputs = layers.Dropout(0.5)(layers.Dense(32)(inputs))\n"
# Keras's inference loops take no `training` argument: `model.predict(x, training=True)` raises a TypeError
# (`evaluate`: a ValueError), in Keras 3 as in tf.keras 2. They always run the model in inference mode.
_INFERENCE_LOOPS = frozenset({"predict", "predict_on_batch", "evaluate", "test_on_batch"})
# Methods that define a layer or model: a training flag there is part of the architecture.
_DEFINITION_METHODS = frozenset({"call", "__call__", "build"})


def _is_literal(node: cst.BaseExpression, value: str) -> bool:
    return isinstance(node, cst.Name) and node.value == value


def _line(ctx: ModuleContext, node: cst.CSTNode) -> int:
    return ctx.position(node).start.line


class InferenceInTrainingMode(Rule):
    """
    ## What it does
    Finds `model(x, training=True)` whose result is used, as a prediction, outside a training step, and
    changes it to `training=False`. The callee must be a model: a name bound to a Keras model (`Sequential`,
    `Model`, `load_model`, `applications`...) or to a subclass defined in the module, or a name containing
    "model". A model defined in the module certainly without BatchNormalization (a `Sequential` of `RandomFlip`
    augmentation layers; a functional model or a layer class of Dense and Dropout) is left alone: training mode
    is how its layers are switched on. "Certainly": everything it is built from is followed to Keras layers,
    this module's functions and classes, TensorFlow or builtins; an application, a loaded model, a parameter
    or another library's block might hold BN, and the call is reported.

    `model.predict(x, training=True)` (or `predict_on_batch`, `evaluate`, `test_on_batch`) is reported too,
    wherever it is: Keras's inference loops take no `training` argument and raise a TypeError (`evaluate`: a
    ValueError). They always run the model in inference mode, so the fix removes the argument.

    Left alone, because there training mode is what the author wants:
    - training steps: functions whose name contains "train" (`train_step`), `with tf.GradientTape()` blocks;
    - model definitions: `BatchNormalization()(x, training=True)` (pix2pix), calls in `call`/`build` methods
      and in classes that define `call`, and calls on functional-API tensors (`base(inputs, training=True)`);
    - Monte-Carlo dropout: the call repeated on the same input in a loop or comprehension (its variable does
      not appear in the call), whose samples are then averaged or stacked;
    - calls whose result is thrown away (`model(batch, training=True)` to refresh BN statistics).

    ## Why is this bad?
    In training mode BatchNormalization normalises with the statistics of the batch it is given instead of its
    moving statistics: a prediction depends on what else is in the batch, and a single sample of Dense features
    normalises to 0 (BN outputs its beta), so all predictions come out the same. Each such call also updates the moving
    statistics (by 1 - momentum per call), so later inference-mode predictions drift too; Dropout drops units.

    ## Example
    ```python
    predictions = [model(sample[None], training=True) for sample in x_test]
    ```

    Use instead:
    ```python
    predictions = [model(sample[None], training=False) for sample in x_test]
    ```

    ## Fix safety
    Unsafe: training-mode inference is sometimes deliberate in ways the source does not show (test-time
    batch statistics, as pix2pix does on purpose, or Monte-Carlo sampling spread over functions), and the
    predictions change. Removing `training=True` from `predict` is safe: as written the call never runs.
    """

    code = "BNF301"
    name = "inference-in-training-mode"
    summary = "model(x, training=True) used for predictions outside a training step"
    fix_safety = FixSafety.UNSAFE

    VALID = [
        Valid(_HEADER + _MODEL + "y = model(x, training=False)\n"),
        # Training steps.
        Valid(_HEADER + _MODEL + "def train_step(x):\n    return model(x, training=True)\n"),
        Valid(_HEADER + _MODEL + "with tf.GradientTape() as tape:\n    y = model(x, training=True)\n"),
        # pix2pix: a layer applied in training mode inside a model definition.
        Valid(_HEADER + "def block(x):\n    return layers.BatchNormalization()(x, training=True)\n"),
        # Monte-Carlo dropout: the same input, many times, averaged.
        Valid(_HEADER + _MODEL + "mean = np.mean([model(x, training=True) for _ in range(50)], axis=0)\n"),
        # Result discarded: refreshing the BN statistics on purpose.
        Valid(_HEADER + _MODEL + "for batch in batches:\n    model(batch, training=True)\n"),
        # Not a model, or a model without BN (augmentation runs only in training mode).
        Valid(_HEADER + "def augment(x, training):\n    return x\n\ny = augment(x, training=True)\n"),
        Valid(_HEADER + "augment = keras.Sequential([layers.RandomFlip()])\nseen = augment(images, training=True)\n"),
        Valid(_HEADER + "from sklearn.ensemble import RandomForestRegressor\nforest = RandomForestRegressor()\ny = forest.predict(x, training=True)\n"),
        Valid(_HEADER + _DROPOUT_ONLY_LAYER + "mlp = MLP()\ny = mlp(tf.ones((2, 2)), training=True)\n"),
        Valid(_HEADER + _DROPOUT_ONLY_FUNCTIONAL + "model = keras.Model(inputs, outputs)\ny = model(x, training=True)\n"),
    ]
    INVALID = [
        Invalid(_HEADER + _MODEL + "y = model(x, training=True)\n"),
        Invalid(
            _HEADER + _MODEL + "preds = [model(s[None], training=True) for s in x_test]\n",
            _HEADER + _MODEL + "preds = [model(s[None], training=False) for s in x_test]\n",
            options={"unsafe_fixes": True},
        ),
        # Keras's inference loops reject the argument: removed, a safe fix, wherever the call is.
        Invalid(
            _HEADER + _MODEL + "model.predict(x_test, training=True)\n",
            _HEADER + _MODEL + "model.predict(x_test)\n",
        ),
        Invalid(
            _HEADER + _MODEL + "def train_and_score():\n    return model.evaluate(x, y, training=True, verbose=0)\n",
            _HEADER + _MODEL + "def train_and_score():\n    return model.evaluate(x, y, verbose=0)\n",
        ),
        # The same models with BN, or built from what is not known here.
        Invalid(_HEADER + _DROPOUT_ONLY_LAYER.replace("Dropout(0.5)", "BatchNormalization()") + "mlp = MLP()\ny = mlp(x, training=True)\n"),
        Invalid(_HEADER + _DROPOUT_ONLY_LAYER.replace("tf.nn.relu(", "tf.nn.batch_normalization(") + "mlp = MLP()\ny = mlp(x, training=True)\n"),
        Invalid(_HEADER + _DROPOUT_ONLY_FUNCTIONAL + "model = keras.Model(inputs, layers.BatchNormalization()(outputs))\ny = model(x, training=True)\n"),
        Invalid(_HEADER + "from blocks import head\n" + _DROPOUT_ONLY_FUNCTIONAL + "model = keras.Model(inputs, head(outputs))\ny = model(x, training=True)\n"),
        Invalid(_HEADER + "base = keras.applications.MobileNetV2()\nmodel = keras.Model(base.input, layers.Dropout(0.5)(base.output))\ny = model(x, training=True)\n"),
        Invalid(
            _HEADER + "def evaluate(my_model, x):\n    return my_model(x, training=True)\n",
            _HEADER + "def evaluate(my_model, x):\n    return my_model(x, training=False)\n",
            options={"unsafe_fixes": True},
        ),
    ]

    @classmethod
    def may_report(cls, facts: SyntaxFacts) -> bool:
        return any(_may_predict_in_training_mode(facts, call) or _may_pass_training_to_a_loop(call) for call in facts.calls)

    def check(self, ctx: ModuleContext) -> Iterator[Violation]:
        models = model_resolver(ctx)
        for call in models.index.calls:
            training = keyword_arg(call, "training")
            if training is None or not _is_literal(training.value, "True"):
                continue
            loop = call.func.attr.value if isinstance(call.func, cst.Attribute) else None
            if loop in _INFERENCE_LOOPS:
                if self._is_model(ctx, models, call.func.value):
                    yield self._rejected_by_loop(call, training, loop)
                continue
            if not self._is_model(ctx, models, call.func) or not self._is_prediction(ctx, models, call):
                continue
            if models.certainly_without_bn(call.func):
                continue  # training mode switches on its augmentation or dropout, which is the point
            callee = dotted_name(call.func)
            fix = Fix({training.value: cst.Name("False")}, f"Call {callee} with training=False", FixSafety.UNSAFE)
            yield Violation(
                training,
                f"{callee}(..., training=True) predicts in training mode: BatchNormalization normalises with this "
                "batch's statistics and updates its moving statistics at every call; use training=False",
                fix,
            )

    def _rejected_by_loop(self, call: cst.Call, training: cst.Arg, loop: str) -> Violation:
        """`model.predict(x, training=True)`: the script crashes there, and `predict` never trains anyway."""
        callee = dotted_name(call.func)
        error = "ValueError: Arguments not recognized" if loop == "evaluate" else f"TypeError: {loop}() got an unexpected keyword argument 'training'"
        # Safe: as written the call never runs, and without the argument it does what `predict` always does.
        fix = Fix({call: remove_arg(call, training)}, f"Remove `training=True` from {callee}()")
        return Violation(
            training,
            f"{callee}() takes no `training` argument ({error}): it always runs the model in inference mode, "
            "with BatchNormalization's moving statistics; remove it",
            fix,
        )

    def _is_model(self, ctx: ModuleContext, models: ModelResolver, func: cst.BaseExpression) -> bool:
        dotted = dotted_name(func)
        if dotted is None or ctx.imports.qualified_name(func) is not None:
            return False  # `Layer(...)(x)` (pix2pix), or a function imported from a library
        if isinstance(func, cst.Name):
            binding = models.bindings.before(func.value, func)
            if binding is not None and binding.index is None and isinstance(binding.value, cst.Call):
                built_by = binding.value.func
                if ctx.imports.keras_layer(built_by) is not None:
                    return False  # a layer, applied in a model definition
                if ctx.imports.keras_name(built_by) is not None:
                    return True  # Sequential, Model, load_model, applications...
                definition = models.definitions.get(built_by.value) if isinstance(built_by, cst.Name) else None
                if isinstance(definition, cst.ClassDef) and definition.bases:
                    return True
        return "model" in dotted.rsplit(".", 1)[-1].lower()

    def _is_prediction(self, ctx: ModuleContext, models: ModelResolver, call: cst.Call) -> bool:
        """Outside training steps and model definitions, not repeated on one input, and its result is used."""
        parent = models.index.parent(call)
        if isinstance(parent, cst.Expr):
            return False
        if isinstance(parent, cst.Assign) and all(_is_literal(t.target, "_") for t in parent.targets):
            return False
        inputs = positional_args(call)
        if inputs and models.is_symbolic(inputs[0].value):
            return False
        used = {name.value for arg in call.args for name in loaded_names(arg.value)}
        for ancestor in models.index.ancestors(call):
            if isinstance(ancestor, cst.With) and any(_is_gradient_tape(ctx, item.item) for item in ancestor.items):
                return False
            if isinstance(ancestor, cst.FunctionDef):
                name = ancestor.name.value
                if "train" in name.lower() or name in _DEFINITION_METHODS:
                    return False
            if isinstance(ancestor, cst.ClassDef) and _defines_call(ancestor):
                return False
            if _repeats_without(ancestor, used):
                return False
        return True


def _may_predict_in_training_mode(facts: SyntaxFacts, call: ast.Call) -> bool:
    """What `check` requires of a call, as far as CPython's tree shows without imports or bindings: `training=True`,
    a result that is used, a dotted callee that may be a model, and no training step or model definition around."""
    if not any(keyword.arg == "training" and is_true(keyword.value) for keyword in call.keywords):
        return False
    callee = dotted(call.func)
    if callee is None or facts.is_statement(call):
        return False
    if "model" not in callee.rsplit(".", 1)[-1].lower():
        if not (isinstance(call.func, ast.Name) and callee in facts.names_bound_to_calls):
            return False  # neither named like a model nor possibly bound to one built by a call
    for scope in facts.enclosing_scopes(call):
        if isinstance(scope, ast.ClassDef):
            if any(isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)) and s.name in _DEFINITION_METHODS for s in scope.body):
                return False
        elif "train" in scope.name.lower() or scope.name in _DEFINITION_METHODS:
            return False
    return True


def _may_pass_training_to_a_loop(call: ast.Call) -> bool:
    """`X.predict(..., training=True)` (or another inference loop) on a dotted receiver."""
    func = call.func
    return (
        isinstance(func, ast.Attribute) and func.attr in _INFERENCE_LOOPS and dotted(func.value) is not None
        and any(keyword.arg == "training" and is_true(keyword.value) for keyword in call.keywords)
    )


def _is_gradient_tape(ctx: ModuleContext, item: cst.BaseExpression) -> bool:
    if not isinstance(item, cst.Call):
        return False
    name = ctx.imports.qualified_name(item.func) or dotted_name(item.func) or ""
    return name.endswith("GradientTape")


def _defines_call(node: cst.ClassDef) -> bool:
    return any(isinstance(s, cst.FunctionDef) and s.name.value in _DEFINITION_METHODS for s in node.body.body)


def _repeats_without(node: cst.CSTNode, used: set[str]) -> bool:
    """A loop or comprehension whose variable the call does not read: the same input, again and again."""
    if isinstance(node, (cst.ListComp, cst.GeneratorExp, cst.SetComp, cst.DictComp)):
        targets: set[str] = set()
        clause: cst.CompFor | None = node.for_in
        while clause is not None:
            targets |= {name.value for name in loaded_names(clause.target)}
            clause = clause.inner_for_in
        return not targets & used
    if isinstance(node, cst.For):
        return not {name.value for name in loaded_names(node.target)} & used
    return isinstance(node, cst.While)


@dataclass(frozen=True)
class _TrainableAssignment:
    statement: cst.SimpleStatementLine
    frozen: bool


_RESNET = "base = keras.applications.ResNet50(include_top=False)\n"
_FROZEN_CALL = "base.trainable = False\ninputs = keras.Input((224, 224, 3))\nx = base(inputs)\n"


class FrozenBaseInTrainingMode(Rule):
    """
    ## What it does
    Finds a model frozen with `base.trainable = False` and then called on a functional-API tensor without a
    `training` argument (`features = base(inputs)`), and adds `training=False`. The freeze must come first, in
    the same function (or at module level for a module-level call), in a block that encloses the call, and no
    `base.trainable = ...` may come in between; calls on data (`base(images)`) are not functional models.

    Only a base that carries pretrained BatchNormalization statistics is reported: a `keras.applications`
    model of a family with BN built with weights (the default `weights="imagenet"`; not VGG16/VGG19, which have
    no normalisation, nor ConvNeXt, which uses LayerNormalization), a model loaded with `load_model`, a model
    whose weights are loaded (`base.load_weights(...)`), or a model with BN trained (`fit`) before it is
    frozen. Left alone: a GAN's discriminator frozen for the combined model before any training, a base given
    as an argument, a base with `weights=None`, and any model without BatchNormalization.

    ## Why is this bad?
    The Keras transfer-learning guide calls a frozen base with `training=False`. Freezing alone keeps its
    BatchNormalization layers in inference mode only while the base stays frozen (Keras 3 runs a BN layer
    with `trainable=False` in inference mode). Once the base is unfrozen for fine-tuning, those layers switch
    to the new data's batch statistics and overwrite the moving statistics the pre-trained weights were learned
    with, and the first fine-tuning steps undo much of the pre-training. `training=False` in the functional
    graph keeps them in inference mode for good, whatever `trainable` says later.

    Measured caveat (`bnfix verify fixtures/transfer_frozen_base.py`, Keras 3.15): inside a Keras 3 functional
    graph the `training=True` that `fit` passes currently overrides the recorded `training=False`
    (keras-team/keras#20285), so the repaired script trains to identical numbers there. The argument takes
    effect in tf-keras and inside a subclassed model's `call`, and states the intent the guide asks for.

    ## Example
    ```python
    base = keras.applications.ResNet50(include_top=False)
    base.trainable = False
    inputs = keras.Input(shape=(224, 224, 3))
    x = base(inputs)
    ```

    Use instead:
    ```python
    x = base(inputs, training=False)
    ```

    ## Fix safety
    Safe when the base has no Dropout: while the base is frozen, Keras 3 already runs its BN layers in
    inference mode, so training behaves as before; the argument only keeps them there after unfreezing, as the
    guide prescribes. Unsafe when the base may contain Dropout (EfficientNet's stochastic depth, the heads of
    MobileNet and MobileNetV3 with `include_top=True`, a loaded model whose layers the source does not show):
    `training=False` also switches its Dropout off during fine-tuning, which the message says.
    """

    code = "BNF302"
    name = "frozen-base-training-mode"
    summary = "frozen pretrained base with BatchNormalization called without training=False in a functional model"
    fix_safety = FixSafety.SAFE

    VALID = [
        Valid(_HEADER + _RESNET + _FROZEN_CALL.replace("base(inputs)", "base(inputs, training=False)")),
        # Not frozen (any more) when called.
        Valid(_HEADER + _RESNET + _FROZEN_CALL.replace("base.trainable = False\n", "base.trainable = False\nbase.trainable = True\n")),
        # Called on data, not in a functional model.
        Valid(_HEADER + _RESNET + "base.trainable = False\nfeatures = base(np.zeros((4, 224, 224, 3)))\n"),
        # Called before it was frozen.
        Valid(_HEADER + _RESNET + "inputs = keras.Input((224, 224, 3))\nx = base(inputs)\nbase.trainable = False\n"),
        # No BatchNormalization (VGG), no pretrained statistics (weights=None), a model known only as a parameter.
        Valid(_HEADER + "base = keras.applications.VGG16(include_top=False)\n" + _FROZEN_CALL),
        Valid(_HEADER + "base = keras.applications.ResNet50(weights=None)\n" + _FROZEN_CALL),
        Valid(_HEADER + "def head(base):\n" + "".join("    " + line + "\n" for line in _FROZEN_CALL.splitlines())),
        # A GAN's discriminator, built here and frozen for the combined model before any training.
        Valid(
            _HEADER
            + "discriminator = keras.Sequential([layers.Dense(8), layers.BatchNormalization(), layers.Dense(1)])\n"
            + "discriminator.trainable = False\nz = keras.Input((4,))\nvalid = discriminator(generator(z))\n"
        ),
    ]
    INVALID = [
        Invalid(_HEADER + _RESNET + _FROZEN_CALL, _HEADER + _RESNET + _FROZEN_CALL.replace("base(inputs)", "base(inputs, training=False)")),
        Invalid(
            _HEADER + "base = keras.models.load_model('base.keras')\n" + _FROZEN_CALL.replace("x = base(inputs)", "x = layers.Rescaling(1 / 255)(inputs)\nx = base(x)"),
            _HEADER + "base = keras.models.load_model('base.keras')\n" + _FROZEN_CALL.replace("x = base(inputs)", "x = layers.Rescaling(1 / 255)(inputs)\nx = base(x, training=False)"),
            options={"unsafe_fixes": True},
        ),
        # EfficientNet drops out inside its blocks: training=False would switch that off too.
        Invalid(_HEADER + "base = keras.applications.EfficientNetB0(include_top=False)\n" + _FROZEN_CALL),
    ]

    @classmethod
    def may_report(cls, facts: SyntaxFacts) -> bool:
        """A `base.trainable = False` statement and a call `base(x, ...)` with a positional input, no `training`
        argument and nothing unpacked."""
        frozen = facts.trainable_set_to_false()
        return bool(frozen) and any(
            call.args
            and dotted(call.func) in frozen
            and not any(isinstance(arg, ast.Starred) for arg in call.args)
            and not any(keyword.arg in (None, "training") for keyword in call.keywords)
            for call in facts.calls
        )

    def check(self, ctx: ModuleContext) -> Iterator[Violation]:
        assignments = _trainable_assignments(ctx)
        if not any(a.frozen for found in assignments.values() for a in found):
            return
        models = model_resolver(ctx)
        index, bindings = models.index, models.bindings
        for call in index.calls:
            callee = dotted_name(call.func)
            if callee not in assignments or keyword_arg(call, "training") is not None or any(a.star for a in call.args):
                continue
            inputs = positional_args(call)
            scope = bindings.scope_of(call)
            in_scope = [a for a in assignments[callee] if bindings.scope_of(a.statement) is scope]
            freeze = _last_before(index, in_scope, call)
            if freeze is None or not freeze.frozen or not inputs or not models.is_symbolic(inputs[0].value):
                continue
            base = pretrained_base(ctx, callee, call, freeze.statement)
            if base is None:
                continue  # no pretrained BN statistics to protect (VGG, a GAN's own discriminator...)
            yield self._violation(ctx, call, callee, freeze, base)

    def _violation(
        self, ctx: ModuleContext, call: cst.Call, callee: str, freeze: _TrainableAssignment, base: PretrainedBase
    ) -> Violation:
        its_bn = "its BatchNormalization layers" if base.has_bn else "any BatchNormalization layers it has"
        message = (
            f"{callee} is frozen (line {_line(ctx, freeze.statement)}) but called without training=False, and it "
            f"{base.origin}: after unfreezing, {its_bn} switch to batch statistics and overwrite the pre-trained ones"
        )
        fixed = set_keyword(call, "training", cst.Name("False"))
        if base.has_dropout is False:
            return Violation(call, message, Fix({call: fixed}, f"Call {callee} with training=False"))
        dropout = "its Dropout layers" if base.has_dropout else "any Dropout layers it has"
        message += f"; training=False also switches off {dropout}"
        fix = Fix({call: fixed}, f"Call {callee} with training=False (also switches off {dropout})", FixSafety.UNSAFE)
        return Violation(call, message, fix)


def _trainable_assignments(ctx: ModuleContext) -> dict[str, list[_TrainableAssignment]]:
    """`base.trainable = False / True` statements by the dotted name of the model, in source order."""
    found: dict[str, list[_TrainableAssignment]] = {}
    for node in ctx.node_index.statements:
        for small in node.body:
            if not (isinstance(small, cst.Assign) and len(small.targets) == 1):
                continue
            target = small.targets[0].target
            if isinstance(target, cst.Attribute) and target.attr.value == "trainable":
                owner = dotted_name(target.value)
                if owner is not None:
                    frozen = _is_literal(small.value, "False")
                    found.setdefault(owner, []).append(_TrainableAssignment(node, frozen))
    return found


def _last_before(index: NodeIndex, assignments: list[_TrainableAssignment], call: cst.Call) -> _TrainableAssignment | None:
    """The `trainable` assignment in force at `call`: the last one before it whose block encloses the call."""
    enclosing = set(index.ancestors(call))
    last = None
    for assignment in assignments:
        if not index.finished_before(assignment.statement, call):
            break
        if index.parent(assignment.statement) in enclosing:
            last = assignment
        else:
            last = None  # set in a branch or another function: not known to hold here
    return last
