"""BNF101: BatchNormalization on the side of the activation the placement policy does not want."""

from __future__ import annotations

from typing import Iterator

import libcst as cst

from bnfix.analysis.calls import keyword_arg, positional_args
from bnfix.analysis.chains import Chain, Changes, Step, find_chains
from bnfix.analysis.layers import ACTIVATION_POSITION, StepKind
from bnfix.analysis.context import ModuleContext
from bnfix.fixes.call_edits import remove_arg
from bnfix.fixes.fix import Fix
from bnfix.fixes.safety import FixSafety
from bnfix.rules.base import Invalid, Rule, Valid, Violation
from bnfix.rules.pretrained import guard_pretrained
from bnfix.settings import PlacementPolicy

_IMPORTS = "from tensorflow import keras\nfrom tensorflow.keras import layers\n"
_LOADED = "m = keras.Sequential([layers.Dense(4), {order}])\nm.load_weights('pretrained.weights.h5')\n"


class BNPlacement(Rule):
    """
    ## What it does
    Finds BatchNormalization on the wrong side of an activation for the configured placement policy
    (`--policy post|pre|keep`, default `post`), in `Sequential([...])` lists, runs of `model.add(...)`,
    functional chains (`x = Layer(...)(x)` and nested calls) and subclassed models (`call` bodies). A
    fused `activation=` argument on Dense/Conv layers counts as the activation.

    - `post`: layer -> activation -> BN (the seed document's recommendation)
    - `pre`: layer -> BN -> activation (Ioffe & Szegedy 2015, keras.applications)
    - `keep`: this rule is off

    Under `post`, when the layer before BN was built with `use_bias=False` (the usual companion of
    layer -> BN), the same fix removes that argument: once BN moves after the activation the layer feeds the
    activation directly, and without its bias the activation loses its learnable shift. Under `pre` the bias
    is left as it is (dropping one that BN cancels is BNF103's job).

    ## Why is this bad?
    A model whose blocks mix both orders is hard to reason about, and which order trains better is an
    empirical question for each model (`bnfix verify --compare-policies` measures it). The seed document
    argues that BN before ReLU normalises values half of which ReLU then discards; the original paper
    argues that pre-activation inputs are closer to Gaussian. A team picks one and bnfix keeps the code to it.

    Left alone on purpose: recurrent layers (their activation is internal), BN with another layer in
    between (pooling, dropout), BN as input normalisation, an activation given by a parameter or a variable
    (a simple constant, `act = "relu"` assigned once and never rebound, counts as its value), `softmax`
    output activations, layers in different branches, and chains whose intermediate value is used
    elsewhere (a residual connection).

    ## Example
    ```python
    model = keras.Sequential([layers.Dense(64), layers.BatchNormalization(), layers.Activation("relu")])
    ```

    Use instead (policy `post`):
    ```python
    model = keras.Sequential([layers.Dense(64), layers.Activation("relu"), layers.BatchNormalization()])
    ```

    Under policy `pre`, `layers.Dense(64, activation="relu"), layers.BatchNormalization()` becomes
    `layers.Dense(64), layers.BatchNormalization(), layers.Activation("relu")`.

    ## Fix safety
    Safe: the code keeps running. The model computes a different function, which is the point of the fix, so
    it must be retrained; `bnfix verify` does that. A restored bias adds one vector to the layer's weights.

    Unsafe when the model the layers belong to gets weights from elsewhere in the same module
    (`model.load_weights(...)`, `model.set_weights(...)`, `keras.models.load_model` / `keras.saving.load_model`
    replacing the built model, or a builder function that loads them when given a `weights` argument, as
    model-zoo code does, including the layers its helper block functions build, and every block function of
    its module when it builds around a function it is given, as keras.applications' `ResNet(stack_fn)` does;
    or a layer given Keras 2's `weights=`; or a model class of keras_hub (keras_cv, keras_nlp), such as a
    `Backbone`, whose presets load checkpoints into these very layers): the checkpoint was trained for the
    function the code computes today. Reloading the best epoch of the module's own `fit` of that model (a `ModelCheckpoint`) is not
    pretrained: the fixed model retrains and saves its own. The finding then says "model loads pretrained weights (line N);
    reordering invalidates them", and only `--unsafe-fixes` applies it. A bias given by an expression
    (`use_bias=use_bias`) cannot be restored reliably: that finding has no fix.
    """

    code = "BNF101"
    name = "bn-placement"
    summary = "BatchNormalization on the wrong side of the activation for the placement policy"
    fix_safety = FixSafety.SAFE

    VALID = [
        Valid(_IMPORTS + 'm = keras.Sequential([layers.Dense(4), layers.Activation("relu"), layers.BatchNormalization()])\n'),
        Valid(_IMPORTS + 'm = keras.Sequential([layers.Dense(4, activation="relu"), layers.BatchNormalization()])\n'),
        Valid(
            _IMPORTS + 'm = keras.Sequential([layers.Dense(4), layers.BatchNormalization(), layers.Activation("relu")])\n',
            options={"policy": "pre"},
        ),
        Valid(
            _IMPORTS + 'm = keras.Sequential([layers.Dense(4), layers.BatchNormalization(), layers.Activation("relu")])\n',
            options={"policy": "keep"},
        ),
        # Recurrent layers keep their activation inside the cell.
        Valid(_IMPORTS + 'm = keras.Sequential([layers.LSTM(8), layers.BatchNormalization(), layers.Activation("relu")])\n'),
        # BN as input normalisation.
        Valid(_IMPORTS + 'm = keras.Sequential([layers.BatchNormalization(), layers.Activation("relu"), layers.Dense(1)])\n'),
        # Another layer in between.
        Valid(_IMPORTS + 'm = keras.Sequential([layers.Dense(4), layers.BatchNormalization(), layers.Dropout(0.2), layers.Activation("relu")])\n'),
        # An activation given by a variable cannot be reasoned about.
        Valid(_IMPORTS + "def block(act):\n    return keras.Sequential([layers.Dense(4), layers.BatchNormalization(), layers.Activation(act)])\n"),
        Valid(_IMPORTS + 'm = keras.Sequential([layers.Dense(4, activation="linear"), layers.BatchNormalization()])\n', options={"policy": "pre"}),
        Valid(_IMPORTS + "m = keras.Sequential([layers.Dense(4, activation=None), layers.BatchNormalization()])\n", options={"policy": "pre"}),
        # A softmax output is not a hidden activation.
        Valid(_IMPORTS + 'm = keras.Sequential([layers.Dense(4), layers.BatchNormalization(), layers.Activation("softmax")])\n'),
        # Not Keras's BatchNormalization.
        Valid(
            "from keras.layers import Dense, Activation\n\nclass BatchNormalization:\n    pass\n\n"
            'm = [Dense(4), BatchNormalization(), Activation("relu")]\n'
        ),
        # Text in strings and comments.
        Valid(_IMPORTS + '"""layers.Dense(4), layers.BatchNormalization(), layers.Activation("relu")"""\n# Dense -> BN -> relu\n'),
    ]
    INVALID = [
        Invalid(
            _IMPORTS + 'm = keras.Sequential([layers.Dense(4), layers.BatchNormalization(), layers.Activation("relu")])\n',
            _IMPORTS + 'm = keras.Sequential([layers.Dense(4), layers.Activation("relu"), layers.BatchNormalization()])\n',
        ),
        Invalid(
            _IMPORTS + 'm = keras.Sequential([layers.Dense(4), layers.Activation("relu"), layers.BatchNormalization()])\n',
            _IMPORTS + 'm = keras.Sequential([layers.Dense(4), layers.BatchNormalization(), layers.Activation("relu")])\n',
            options={"policy": "pre"},
        ),
        Invalid(
            _IMPORTS + 'm = keras.Sequential([layers.Dense(4, activation="relu"), layers.BatchNormalization()])\n',
            _IMPORTS + 'm = keras.Sequential([layers.Dense(4), layers.BatchNormalization(), layers.Activation("relu")])\n',
            options={"policy": "pre"},
        ),
        # A comment after a layer moves with it (pierluigiferrari/ssd_keras comments its BN axis so).
        Invalid(
            _IMPORTS + "x = layers.Dense(8)(x)\nx = layers.BatchNormalization(axis=-1)(x)  # the channel axis\nx = layers.ReLU()(x)\n",
            _IMPORTS + "x = layers.Dense(8)(x)\nx = layers.ReLU()(x)\nx = layers.BatchNormalization(axis=-1)(x)  # the channel axis\n",
        ),
        # A layer by another name Keras gives it (`Convolution2D` is `Conv2D`), with the fused activation split out.
        Invalid(
            _IMPORTS + 'm = keras.Sequential([layers.Convolution2D(8, 3, activation="relu"), layers.BatchNormalization()])\n',
            _IMPORTS + 'm = keras.Sequential([layers.Convolution2D(8, 3), layers.BatchNormalization(), layers.Activation("relu")])\n',
            options={"policy": "pre"},
        ),
        # Under `post` the layer no longer feeds BN: its bias comes back in the same fix.
        Invalid(
            _IMPORTS + 'm = keras.Sequential([layers.Dense(4, use_bias=False), layers.BatchNormalization(), layers.Activation("relu")])\n',
            _IMPORTS + 'm = keras.Sequential([layers.Dense(4), layers.Activation("relu"), layers.BatchNormalization()])\n',
        ),
        # A model that loads pretrained weights: reported, fixed only with --unsafe-fixes.
        Invalid(_IMPORTS + _LOADED.format(order="layers.BatchNormalization(), layers.ReLU()")),
        Invalid(
            _IMPORTS + _LOADED.format(order="layers.BatchNormalization(), layers.ReLU()"),
            _IMPORTS + _LOADED.format(order="layers.ReLU(), layers.BatchNormalization()"),
            options={"unsafe_fixes": True},
        ),
        Invalid(
            _IMPORTS + "x = layers.Dense(8)(x)\nx = layers.BatchNormalization()(x)\nx = layers.ReLU()(x)\n",
            _IMPORTS + "x = layers.Dense(8)(x)\nx = layers.ReLU()(x)\nx = layers.BatchNormalization()(x)\n",
        ),
        Invalid(
            "import tensorflow as tf\nfrom tensorflow.keras import layers\n"
            "y = tf.nn.relu(layers.BatchNormalization()(layers.Conv2D(8, 3)(x)))\n",
            "import tensorflow as tf\nfrom tensorflow.keras import layers\n"
            "y = layers.BatchNormalization()(tf.nn.relu(layers.Conv2D(8, 3)(x)))\n",
        ),
    ]

    def check(self, ctx: ModuleContext) -> Iterator[Violation]:
        policy = ctx.settings.policy
        if policy is PlacementPolicy.KEEP:
            return
        for chain in find_chains(ctx):
            yield from self._check_chain(ctx, chain, policy)

    def _check_chain(self, ctx: ModuleContext, chain: Chain, policy: PlacementPolicy) -> Iterator[Violation]:
        # The pair of steps after a weighted layer that each policy wants swapped, and which of them is the BN.
        unwanted_pair, bn_index, wanted_side = {
            PlacementPolicy.POST: ([StepKind.BN, StepKind.ACTIVATION], 0, ("before", "after", "layer -> activation -> BN")),
            PlacementPolicy.PRE: ([StepKind.ACTIVATION, StepKind.BN], 1, ("after", "before", "layer -> BN -> activation")),
        }[policy]
        steps = chain.steps
        for i, layer in enumerate(steps[:-1]):
            if layer.kind is not StepKind.WEIGHTED:
                continue
            following = steps[i + 1 : i + 3]
            if policy is PlacementPolicy.PRE and following[0].kind is StepKind.BN and layer.info.fused_activation:
                yield self._split_violation(ctx, chain, i)
            elif [step.kind for step in following] == unwanted_pair and not layer.info.fused_activation:
                bn, activation_step = following[bn_index], following[1 - bn_index]
                if not activation_step.info.movable_activation:
                    continue
                activation = activation_step.info.activation
                found_side, other_side, order = wanted_side
                description = f"Move BatchNormalization {other_side} the {activation!r} activation"
                changes = chain.swap(i + 1)
                if changes is not None and policy is PlacementPolicy.POST:
                    changes, restored = _with_bias_restored(chain, layer, changes)
                    if restored:
                        description += f" and restore {layer.info.name}'s bias, which BN no longer follows"
                violation = Violation(
                    bn.node,
                    f"BatchNormalization {found_side} the {activation!r} activation; policy '{policy.value}' puts it "
                    f"{other_side} ({order})",
                    _fix(changes, description),
                )
                yield guard_pretrained(ctx, chain, violation, "reordering")

    def _split_violation(self, ctx: ModuleContext, chain: Chain, i: int) -> Violation:
        layer, bn = chain.steps[i], chain.steps[i + 1]
        activation = layer.info.activation
        reference = _activation_layer(ctx, bn)
        changes = None
        if reference is not None and layer.info.activation_node is not None:
            activation_layer = cst.Call(func=reference[0], args=[cst.Arg(layer.info.activation_node)])
            changes = chain.split_activation(i, i + 1, activation_layer)
        violation = Violation(
            bn.node,
            f"{layer.info.name} applies the {activation!r} activation before BatchNormalization; policy "
            "'pre' puts BN before the activation (layer -> BN -> activation)",
            _fix(
                changes,
                f"Split {activation!r} out of {layer.info.name} into an Activation after BatchNormalization",
                reference[1] if reference else (),
            ),
        )
        return guard_pretrained(ctx, chain, violation, "moving the activation")


def _with_bias_restored(chain: Chain, layer: Step, changes: Changes) -> tuple[Changes | None, bool]:
    """Under `post` the layer's output feeds the activation, not BN: a `use_bias=False` must go with the move.

    Without it the activation loses its learnable shift (BN's beta now acts after the activation). A bias given
    by an expression or by position cannot be restored reliably: then there is no fix.
    """
    constructor, name = layer.constructor, str(layer.info.name)
    if constructor is None or name not in ACTIVATION_POSITION:
        return changes, False
    use_bias = keyword_arg(constructor, "use_bias")
    if use_bias is None:
        given_by_position = len(positional_args(constructor)) > ACTIVATION_POSITION[name] + 1
        return (None if given_by_position else changes), False
    value = use_bias.value
    if isinstance(value, cst.Name) and value.value == "True":
        return changes, False
    if isinstance(value, cst.Name) and value.value == "False":
        return chain.with_constructor_edit(changes, layer, remove_arg(constructor, use_bias)), True
    return None, False


def _fix(changes: dict | None, description: str, imports: tuple = ()) -> Fix | None:
    return Fix(changes, description, FixSafety.SAFE, imports) if changes else None


def _activation_layer(ctx: ModuleContext, bn_step: Step) -> tuple[cst.BaseExpression, tuple] | None:
    """How to write `Activation` next to this BN: `layers.Activation`, an imported name, or a new import."""
    constructor = bn_step.constructor
    if constructor is None:
        return None
    func = constructor.func
    if isinstance(func, cst.Attribute):
        return func.with_changes(attr=cst.Name("Activation")), ()
    local = ctx.imports.local_name_for("layers.Activation")
    if local is not None:
        return cst.Name(local), ()
    qualified = ctx.imports.qualified_name(func)
    if qualified is None or "." not in qualified:
        return None
    return cst.Name("Activation"), ((qualified.rsplit(".", 1)[0], "Activation"),)
