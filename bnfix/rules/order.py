"""BNF102 and BNF103: what sits directly before BatchNormalization in a chain of layers."""

from __future__ import annotations

import re
from typing import Iterator

import libcst as cst

from bnfix.analysis import keras_version
from bnfix.analysis.bindings import bindings
from bnfix.analysis.chains import Chain, Step, find_chains
from bnfix.analysis.calls import keyword_arg, positional_args
from bnfix.fixes.call_edits import set_keyword
from bnfix.analysis.layers import ACTIVATION_POSITION, LINEAR, StepKind
from bnfix.analysis.names import dotted_name
from bnfix.analysis.context import ModuleContext
from bnfix.fixes.fix import Fix
from bnfix.fixes.safety import FixSafety
from bnfix.rules.base import Invalid, Rule, Valid, Violation
from bnfix.rules.pretrained import guard_pretrained
from bnfix.settings import PlacementPolicy

_IMPORTS = "from tensorflow import keras\nfrom tensorflow.keras import layers\n"
_FORMAT_BRANCHES = "if K.image_data_format() == 'channels_last':\n    bn_axis = 3\n"
# A convolution, then BN over an axis chosen by Keras's configured data format (`{conv}`: more arguments).
_BY_FORMAT = (
    "from tensorflow.keras import backend as K\nbn_axis = {axis}\n"
    "x = layers.Conv2D(16, 3{conv})(x)\nx = layers.BatchNormalization(axis=bn_axis)(x)\nx = layers.ReLU()(x)\n"
)
_LOADED = "m = keras.Sequential([layers.Dense(8), {order}])\nm.load_weights('pretrained.weights.h5')\n"

# AlphaDropout is built to keep its input's mean and variance (for SELU networks): no variance shift.
_VARIANCE_PRESERVING_DROPOUT = frozenset({"AlphaDropout"})
# Layers whose bias is one value per output channel, and the argument that counts the channels.
_CHANNEL_ARGUMENT = {name: "units" if name == "Dense" else "filters" for name in ACTIVATION_POSITION}
_CHANNEL_ARGUMENT.update({"DepthwiseConv1D": "", "DepthwiseConv2D": ""})  # channels = inputs x depth_multiplier


_SPATIAL_AXES = re.compile(r"([123])D(?:Transpose)?$")


def output_rank(layer: str | None) -> int | None:
    """The rank of what a convolution-style layer outputs (`Conv2D`: batch, two spatial axes, channels = 4), from the
    `1D`/`2D`/`3D` of its name; None when the layer keeps its input's rank (Dense) or the name says nothing."""
    match = _SPATIAL_AXES.search(layer or "")
    return int(match.group(1)) + 2 if match else None


def _known_rank(ctx: ModuleContext, step: Step) -> int | None:
    """`output_rank` of a chain's layer where the target Keras fixes it: Keras 3 refuses a convolution's input with
    more axes than its rank + 2, while tf.keras 2 took `batch_shape + (rows, cols, channels)`."""
    func = step.constructor.func if step.constructor is not None else None
    version = keras_version.target_keras_version(ctx.settings, ctx.imports.qualified_name(func) if func is not None else None)
    return None if keras_version.is_keras2(version) else output_rank(step.info.name)


def _literal(node: cst.BaseExpression | None) -> float | None:
    """A numeric literal's value (`-1` included); None for anything else."""
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        value = _literal(node.expression)
        return None if value is None else -value
    if isinstance(node, (cst.Integer, cst.Float)):
        return float(node.evaluated_value)
    return None


def _argument(call: cst.Call, name: str, position: int) -> cst.BaseExpression | None:
    arg = keyword_arg(call, name)
    if arg is None:
        positional = positional_args(call)
        arg = positional[position] if position < len(positional) else None
    return arg.value if arg is not None else None


def _is_true_or_absent(call: cst.Call, name: str) -> bool:
    arg = keyword_arg(call, name)
    return arg is None or (isinstance(arg.value, cst.Name) and arg.value.value == "True")


class DropoutBeforeBN(Rule):
    """
    ## What it does
    Finds BatchNormalization directly after Dropout (or SpatialDropout / GaussianDropout) in `Sequential`
    lists, `model.add` runs, functional chains and subclassed models' `call` bodies, and swaps the two so
    that BN comes first.

    ## Why is this bad?
    The "variance shift" (Li, Chen, Hu & Yang, CVPR 2019). In training, Dropout(rate) zeroes units and scales
    the kept ones by 1 / (1 - rate), so BN's input has 1 / (1 - rate) times the second moment it will have at
    inference, where Dropout is the identity: BN's moving variance is learned for inputs it never sees, and its
    inference output is shrunk. With BN first, BN sees the same inputs in training and at inference.

    Left alone: AlphaDropout (it keeps its input's mean and variance by design), layers with anything in
    between, and functional chains whose intermediate value is used elsewhere.

    ## Example
    ```python
    keras.Sequential([layers.Dense(64), layers.Activation("relu"), layers.Dropout(0.5), layers.BatchNormalization()])
    ```

    Use instead:
    ```python
    keras.Sequential([layers.Dense(64), layers.Activation("relu"), layers.BatchNormalization(), layers.Dropout(0.5)])
    ```

    ## Fix safety
    Safe: the code keeps running and every weight keeps its shape (Dropout has none). The model computes a
    different function, which is the point of the fix, so it must be retrained; `bnfix verify` does that.

    Unsafe when the model gets weights from elsewhere in the same module (`load_weights`, `set_weights`,
    `load_model` replacing it, a model-zoo builder that loads them when given `weights`, including its helper
    blocks): the finding then says "model loads pretrained weights (line N); reordering invalidates them",
    and only `--unsafe-fixes` applies it.
    """

    code = "BNF102"
    name = "dropout-before-bn"
    summary = "BatchNormalization directly after Dropout (variance shift)"
    fix_safety = FixSafety.SAFE

    VALID = [
        Valid(_IMPORTS + "m = keras.Sequential([layers.Dense(8), layers.BatchNormalization(), layers.Dropout(0.5)])\n"),
        Valid(_IMPORTS + "m = keras.Sequential([layers.Dropout(0.5), layers.Dense(8), layers.BatchNormalization()])\n"),
        Valid(_IMPORTS + "m = keras.Sequential([layers.Dense(8), layers.AlphaDropout(0.1), layers.BatchNormalization()])\n"),
        Valid("from keras.layers import BatchNormalization\n\nclass Dropout:\n    pass\n\nm = [Dropout(), BatchNormalization()]\n"),
    ]
    INVALID = [
        Invalid(
            _IMPORTS + "m = keras.Sequential([layers.Dense(8), layers.Dropout(0.5), layers.BatchNormalization()])\n",
            _IMPORTS + "m = keras.Sequential([layers.Dense(8), layers.BatchNormalization(), layers.Dropout(0.5)])\n",
        ),
        Invalid(
            _IMPORTS + "x = layers.Dropout(rate=0.2)(x)\nx = layers.BatchNormalization()(x)\n",
            _IMPORTS + "x = layers.BatchNormalization()(x)\nx = layers.Dropout(rate=0.2)(x)\n",
        ),
        # A model that loads pretrained weights: reported, fixed only with --unsafe-fixes.
        Invalid(_IMPORTS + _LOADED.format(order="layers.Dropout(0.5), layers.BatchNormalization()")),
        Invalid(
            _IMPORTS + _LOADED.format(order="layers.Dropout(0.5), layers.BatchNormalization()"),
            _IMPORTS + _LOADED.format(order="layers.BatchNormalization(), layers.Dropout(0.5)"),
            options={"unsafe_fixes": True},
        ),
    ]

    def check(self, ctx: ModuleContext) -> Iterator[Violation]:
        for chain in find_chains(ctx):
            for i, step in enumerate(chain.steps[:-1]):
                bn = chain.steps[i + 1]
                if step.kind is StepKind.DROPOUT and bn.kind is StepKind.BN and step.info.name not in _VARIANCE_PRESERVING_DROPOUT:
                    yield guard_pretrained(ctx, chain, self._violation(chain, i, step, bn), "reordering")

    def _violation(self, chain: Chain, i: int, dropout: Step, bn: Step) -> Violation:
        rate = _literal(_argument(dropout.constructor, "rate", 0)) if dropout.constructor is not None else None
        if rate is not None and 0 < rate < 1:
            shown = f"{dropout.info.name}({rate:g})"
            shift = f"whose second moment is {1 / (1 - rate):.3g}x what inference feeds it"
        else:
            shown, shift = str(dropout.info.name), "whose variance inference never sees"
        message = f"BatchNormalization directly after {shown} learns its moving variance from dropped-out inputs, {shift} (variance shift)"
        changes = chain.swap(i)
        fix = Fix(changes, f"Move BatchNormalization before {dropout.info.name}") if changes else None
        return Violation(bn.node, message, fix)


class RedundantBias(Rule):
    """
    ## What it does
    Finds a Dense or convolution layer with a bias (`use_bias=True`, the default) and no activation of its
    own, directly followed by BatchNormalization with `center=True` (the default), and sets `use_bias=False`.

    Left alone: layers with a fused non-linear activation (the bias acts before the non-linearity), BN with
    `center=False` (then the layer's bias is the only shift the author kept), BN over another axis than the
    layer's channels (an axis chosen by data format, `bn_axis = 3 if backend.image_data_format() ==
    "channels_last" else 1` as keras.applications writes it, is the channel axis under either), EinsumDense (no bias by default), and under the placement policy `post` a BN followed by
    an activation (BNF101 moves that BN after the activation, where the bias is no longer cancelled).

    ## Why is this bad?
    BN subtracts the batch mean of each channel (and at inference the moving mean), which removes any constant
    added per channel: the bias is cancelled exactly, and BN's own `beta` provides the shift. The bias still costs
    parameters, memory and optimizer state, and its gradient is always zero, which makes weight decay on it
    pointless. keras.applications' ResNets build their convolutions before BN with `use_bias=False`.

    ## Example
    ```python
    keras.Sequential([layers.Conv2D(64, 3), layers.BatchNormalization(), layers.ReLU()])
    ```

    Use instead:
    ```python
    keras.Sequential([layers.Conv2D(64, 3, use_bias=False), layers.BatchNormalization(), layers.ReLU()])
    ```

    ## Fix safety
    Unsafe: the model computes the same function, but the layer's weights change shape (the bias vector is
    gone), so checkpoints and `.weights.h5` files saved before the fix no longer load, and code that indexes
    `layer.weights` breaks. When the module itself loads weights into the model (`load_weights`,
    `set_weights`, `load_model`, a model-zoo builder given `weights`), the finding says so: "model loads
    pretrained weights (line N); dropping the bias invalidates them".
    """

    code = "BNF103"
    name = "redundant-bias"
    summary = "Dense/Conv bias directly followed by BatchNormalization, which cancels it"
    fix_safety = FixSafety.UNSAFE

    VALID = [
        Valid(_IMPORTS + "m = keras.Sequential([layers.Dense(8, use_bias=False), layers.BatchNormalization()])\n"),
        Valid(_IMPORTS + "m = keras.Sequential([layers.Dense(8, activation='relu'), layers.BatchNormalization()])\n"),
        Valid(_IMPORTS + "m = keras.Sequential([layers.Dense(8), layers.BatchNormalization(center=False)])\n"),
        Valid(_IMPORTS + "m = keras.Sequential([layers.Conv2D(8, 3), layers.BatchNormalization(axis=1)])\n"),
        Valid(_IMPORTS + "m = keras.Sequential([layers.Conv1D(8, 3), layers.BatchNormalization(axis=1)])\n"),  # not axis 2
        # Under `post`, BNF101 moves this BN after the ReLU.
        Valid(_IMPORTS + "m = keras.Sequential([layers.Dense(8), layers.BatchNormalization(), layers.ReLU()])\n"),
        # An axis chosen by data format that is not the channel axis under one of them, or a layer that fixes its own.
        Valid(_IMPORTS + _BY_FORMAT.format(axis="2 if K.image_data_format() == 'channels_last' else 3", conv=""), options={"policy": "pre"}),
        Valid(
            _IMPORTS + _BY_FORMAT.format(axis="3 if K.image_data_format() == 'channels_last' else 1", conv=", data_format='channels_first'"),
            options={"policy": "pre"},
        ),
        # Set only when channels_last: under channels_first the axis is whatever it was before.
        Valid(_IMPORTS + _BY_FORMAT.format(axis="None", conv="").replace("bn_axis = None\n", _FORMAT_BRANCHES), options={"policy": "pre"}),
    ]
    INVALID = [
        Invalid(_IMPORTS + "m = keras.Sequential([layers.Dense(8), layers.BatchNormalization(), layers.Dense(1)])\n"),
        Invalid(
            _IMPORTS + "m = keras.Sequential([layers.Dense(8), layers.BatchNormalization(), layers.Dense(1)])\n",
            _IMPORTS + "m = keras.Sequential([layers.Dense(8, use_bias=False), layers.BatchNormalization(), layers.Dense(1)])\n",
            options={"unsafe_fixes": True},
        ),
        Invalid(
            _IMPORTS + "x = layers.Conv2D(16, 3)(x)\nx = layers.BatchNormalization()(x)\nx = layers.ReLU()(x)\n",
            _IMPORTS + "x = layers.Conv2D(16, 3, use_bias=False)(x)\nx = layers.BatchNormalization()(x)\nx = layers.ReLU()(x)\n",
            options={"unsafe_fixes": True, "policy": "pre"},
        ),
        # keras.applications' idiom: the channel axis whichever data format Keras is configured with.
        Invalid(
            _IMPORTS + _BY_FORMAT.format(axis="3 if K.image_data_format() == 'channels_last' else 1", conv=""),
            _IMPORTS + _BY_FORMAT.format(axis="3 if K.image_data_format() == 'channels_last' else 1", conv=", use_bias=False"),
            options={"unsafe_fixes": True, "policy": "pre"},
        ),
        Invalid(
            _IMPORTS + _BY_FORMAT.format(axis="1 if K.image_data_format() == 'channels_first' else -1", conv=""),
            options={"policy": "pre"},
        ),
        Invalid(
            _IMPORTS + _BY_FORMAT.format(axis="None", conv="").replace("bn_axis = None\n", _FORMAT_BRANCHES + "else:\n    bn_axis = 1\n"),
            options={"policy": "pre"},
        ),
        # Axis 3 of a Conv2D's 4-D output is its channel axis, -1 (pierluigiferrari/ssd_keras writes it so).
        Invalid(
            _IMPORTS + "x = layers.Conv2D(16, 3)(x)\nx = layers.BatchNormalization(axis=3)(x)\nx = layers.ELU()(x)\n",
            _IMPORTS + "x = layers.Conv2D(16, 3, use_bias=False)(x)\nx = layers.BatchNormalization(axis=3)(x)\nx = layers.ELU()(x)\n",
            options={"unsafe_fixes": True, "policy": "pre"},
        ),
    ]

    def check(self, ctx: ModuleContext) -> Iterator[Violation]:
        for chain in find_chains(ctx):
            steps = chain.steps
            for i, layer in enumerate(steps[:-1]):
                bn = steps[i + 1]
                if layer.kind is not StepKind.WEIGHTED or bn.kind is not StepKind.BN:
                    continue
                if layer.constructor is None or bn.constructor is None:
                    continue
                if not _has_cancelled_bias(ctx, layer, bn.constructor, _known_rank(ctx, layer)):
                    continue
                if ctx.settings.policy is PlacementPolicy.POST and i + 2 < len(steps) and steps[i + 2].info.movable_activation:
                    continue
                yield guard_pretrained(ctx, chain, self._violation(chain, layer), "dropping the bias")

    def _violation(self, chain: Chain, layer: Step) -> Violation:
        assert layer.constructor is not None
        name = layer.info.name
        channel_argument = _CHANNEL_ARGUMENT[str(name)]
        channels = _literal(_argument(layer.constructor, channel_argument, 0)) if channel_argument else None
        if channels is not None:
            shown, saving = f"{name}({channels:g})", f"use_bias=False drops {channels:g} parameters that never change the output"
        else:
            shown, saving = str(name), "use_bias=False drops parameters that never change the output"
        message = f"{shown} adds a bias that the next BatchNormalization subtracts again with the mean; {saving}"
        new_constructor = set_keyword(layer.constructor, "use_bias", cst.Name("False"))
        fix = Fix(chain.edit_constructor(layer, new_constructor), f"Set use_bias=False on {name}", FixSafety.UNSAFE)
        return Violation(layer.node, message, fix)


def _has_cancelled_bias(ctx: ModuleContext, layer: Step, bn: cst.Call, rank: int | None) -> bool:
    """The layer adds one bias per channel, nothing non-linear follows it, and BN centres those channels."""
    constructor = layer.constructor
    assert constructor is not None
    name = str(layer.info.name)
    if name not in _CHANNEL_ARGUMENT or any(arg.star for arg in constructor.args):
        return False
    if layer.info.activation not in (None, LINEAR):  # a fused non-linearity, or one given by a variable
        return False
    if len(positional_args(constructor)) > ACTIVATION_POSITION[name] + 1:  # use_bias given by position
        return False
    if not _is_true_or_absent(constructor, "use_bias") or not _is_true_or_absent(bn, "center"):
        return False
    return _same_channel_axis(ctx, constructor, bn, rank)


def _same_channel_axis(ctx: ModuleContext, layer: cst.Call, bn: cst.Call, rank: int | None) -> bool:
    """BN normalises the layer's channel axis: -1 (channels_last) or 1 (channels_first), or the same axis counted
    the other way when the layer's output rank is known (`axis=3` after a Conv2D)."""
    data_format = keyword_arg(layer, "data_format")
    if data_format is not None and not isinstance(data_format.value, cst.SimpleString):
        return False  # given by a variable: the channel axis is unknown
    channels_first = data_format is not None and data_format.value.evaluated_value == "channels_first"  # type: ignore[union-attr]
    axis = _argument(bn, "axis", 0)
    if data_format is None and isinstance(axis, cst.Name):
        return _channel_axis_of_either_format(ctx, axis, rank)
    axis_value = -1 if axis is None else _literal(axis)
    if axis_value is None:
        return False
    channel_axis = 1 if channels_first else -1
    return _normalised_axis(axis_value, rank) == _normalised_axis(channel_axis, rank)


def _channel_axis_of_either_format(ctx: ModuleContext, axis: cst.Name, rank: int | None) -> bool:
    """`bn_axis = 3 if backend.image_data_format() == "channels_last" else 1` (keras.applications and the zoos
    that copy it; `K.image_data_format()`, "channels_first" tested the other way; or the same as an `if` statement
    with one assignment in each branch): the channel axis under either data format Keras is configured with,
    which a layer given no `data_format` follows too."""
    binding = bindings(ctx).before(axis.value, axis)
    if binding is not None and binding.index is None and isinstance(binding.value, cst.IfExp):
        choice = binding.value
        return _by_format(choice.test, _literal(choice.body), _literal(choice.orelse), rank)
    if binding is None:
        branches = bindings(ctx).branch_values(axis.value, axis)
        if branches is not None:
            statement, when_true, when_false = branches
            return _by_format(statement.test, _literal(when_true), _literal(when_false), rank)
    return False


def _by_format(test: cst.BaseExpression, when_true: float | None, when_false: float | None, rank: int | None) -> bool:
    """`test` compares `image_data_format()` with one format, and the two values are the channel axis under each."""
    if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1 or not isinstance(test.comparisons[0].operator, cst.Equal):
        return False
    left, right = test.left, test.comparisons[0].comparator
    asks_format = isinstance(left, cst.Call) and (dotted_name(left.func) or "").rsplit(".", 1)[-1] == "image_data_format"
    if not asks_format or not isinstance(right, cst.SimpleString) or right.evaluated_value not in _FORMATS:
        return False
    last, first = (when_true, when_false) if right.evaluated_value == "channels_last" else (when_false, when_true)
    if last is None or first is None:
        return False
    return _normalised_axis(last, rank) == _normalised_axis(-1, rank) and first == 1


_FORMATS = ("channels_last", "channels_first")


def _normalised_axis(axis: float, rank: int | None) -> float:
    """`axis` counted from the end (`3` of a rank-4 tensor is `-1`) when the rank is known; else as written."""
    return axis - rank if rank is not None and axis >= 0 else axis


class RepeatedBN(Rule):
    """
    ## What it does
    Finds BatchNormalization applied directly to the output of another BatchNormalization over the same axis,
    in `Sequential` lists, `model.add` runs, functional chains (`x = BatchNormalization()(x)` twice, or nested
    calls) and subclassed models' `call` bodies, and removes the second.

    Left alone: two BN layers over different axes, and BN layers with anything in between (an activation,
    pooling, a residual addition).

    ## Why is this bad?
    The first BN's output already has, per channel, batch mean `beta` and standard deviation `|gamma|`: the
    second normalises the same values again and only replaces the first's `gamma` and `beta` with its own.
    It adds four variables per channel and a second set of moving statistics, and at inference the second
    layer's moving mean and variance are estimates of the first's estimates, so their errors compound
    (`moving = moving * momentum + batch * (1 - momentum)` in both layers). Doubled BN is usually a copy-paste
    slip or a block helper that normalises its output while the caller normalises again.

    ## Example
    ```python
    model.add(layers.Conv2D(32, 3))
    model.add(layers.BatchNormalization())
    model.add(layers.BatchNormalization())
    model.add(layers.ReLU())
    ```

    Use instead:
    ```python
    model.add(layers.Conv2D(32, 3))
    model.add(layers.BatchNormalization())
    model.add(layers.ReLU())
    ```

    ## Fix safety
    Unsafe: the model loses a layer and its weights, so checkpoints saved before the fix no longer load, and
    it computes a different function until retrained. When the second BN has arguments the first lacks
    (`momentum=`, `epsilon=`...), bnfix only reports: which configuration was meant is the author's call.
    """

    code = "BNF104"
    name = "repeated-bn"
    summary = "BatchNormalization applied twice in a row"
    fix_safety = FixSafety.UNSAFE

    VALID = [
        Valid(_IMPORTS + "m = keras.Sequential([layers.Dense(8), layers.BatchNormalization(), layers.ReLU(), layers.BatchNormalization()])\n"),
        # Different axes normalise different values.
        Valid(_IMPORTS + "m = keras.Sequential([layers.Conv2D(8, 3), layers.BatchNormalization(axis=1), layers.BatchNormalization()])\n"),
        # Not consecutive in one chain: a residual addition in between.
        Valid(_IMPORTS + "x = layers.BatchNormalization()(x)\nx = layers.add([x, shortcut])\nx = layers.BatchNormalization()(x)\n"),
    ]
    INVALID = [
        Invalid(_IMPORTS + "m = keras.Sequential([layers.Dense(8), layers.BatchNormalization(), layers.BatchNormalization()])\n"),
        Invalid(
            _IMPORTS + "m = keras.Sequential([layers.Dense(8), layers.BatchNormalization(), layers.BatchNormalization()])\n",
            _IMPORTS + "m = keras.Sequential([layers.Dense(8), layers.BatchNormalization()])\n",
            options={"unsafe_fixes": True},
        ),
        Invalid(
            _IMPORTS + "m = keras.Sequential()\nm.add(layers.Dense(8))\nm.add(layers.BatchNormalization())\n"
            "m.add(layers.BatchNormalization())\nm.add(layers.ReLU())\n",
            _IMPORTS + "m = keras.Sequential()\nm.add(layers.Dense(8))\nm.add(layers.BatchNormalization())\nm.add(layers.ReLU())\n",
            options={"unsafe_fixes": True},
        ),
        Invalid(
            _IMPORTS + "x = layers.Conv2D(8, 3)(x)\nx = layers.BatchNormalization()(x)\nx = layers.BatchNormalization()(x)\n",
            _IMPORTS + "x = layers.Conv2D(8, 3)(x)\nx = layers.BatchNormalization()(x)\n",
            options={"unsafe_fixes": True},
        ),
        # After a Conv2D, axis 3 and the default -1 are the same axis.
        Invalid(
            _IMPORTS + "x = layers.Conv2D(8, 3)(x)\nx = layers.BatchNormalization(axis=3)(x)\nx = layers.BatchNormalization()(x)\n",
            _IMPORTS + "x = layers.Conv2D(8, 3)(x)\nx = layers.BatchNormalization(axis=3)(x)\n",
            options={"unsafe_fixes": True},
        ),
        # The second BN is configured differently: report only.
        Invalid(
            _IMPORTS + "x = layers.BatchNormalization()(x)\nx = layers.BatchNormalization(momentum=0.9)(x)\n",
            options={"unsafe_fixes": True},
        ),
    ]

    def check(self, ctx: ModuleContext) -> Iterator[Violation]:
        for chain in find_chains(ctx):
            for i, first in enumerate(chain.steps[:-1]):
                second = chain.steps[i + 1]
                if first.kind is not StepKind.BN or second.kind is not StepKind.BN:
                    continue
                if first.constructor is None or second.constructor is None:
                    continue
                rank = _known_rank(ctx, chain.steps[i - 1]) if i > 0 else None  # of what the first BN gets
                if _bn_axis(ctx, first.constructor, rank) != _bn_axis(ctx, second.constructor, rank):
                    continue
                yield self._violation(ctx, chain, i + 1, first.constructor, second.constructor)

    def _violation(self, ctx: ModuleContext, chain: Chain, i: int, first: cst.Call, second: cst.Call) -> Violation:
        extra = sorted(_bn_settings(ctx, second).items() - _bn_settings(ctx, first).items())
        message = (f"{chain.steps[i].info.name} directly after {chain.steps[i - 1].info.name} normalises values that "
                   "are already normalised; it only replaces the first one's gamma and beta")
        if extra:
            shown = ", ".join(f"{name}={value}" for name, value in extra)
            return Violation(chain.steps[i].node, f"{message}; the second sets {shown}: keep one BatchNormalization")
        changes = chain.remove(i)
        fix = Fix(changes, "Remove the second BatchNormalization", FixSafety.UNSAFE) if changes else None
        return Violation(chain.steps[i].node, f"{message}; remove the second", fix)


def _bn_settings(ctx: ModuleContext, bn: cst.Call) -> dict[str, str]:
    """A BN constructor's arguments as written (`name=` aside: it configures nothing), keyed by parameter."""
    settings = {}
    for arg in bn.args:
        key = arg.keyword.value if arg.keyword is not None else f"#{bn.args.index(arg)}"
        if key != "name":
            settings[key] = ctx.code_for(arg.value)
    return settings


def _bn_axis(ctx: ModuleContext, bn: cst.Call, rank: int | None) -> str:
    """The axis a BN normalises, as written, or counted from the end when it is a number and the rank is known."""
    axis = _argument(bn, "axis", 0)
    if axis is None:
        return "-1"
    value = _literal(axis)
    return ctx.code_for(axis) if value is None else f"{_normalised_axis(value, rank):g}"
