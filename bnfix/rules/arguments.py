"""BNF201 and BNF202: BatchNormalization arguments written for another library or another Keras."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Iterator

import libcst as cst

from bnfix.analysis import keras_version
from bnfix.analysis.calls import keyword_arg, positional_args
from bnfix.fixes.call_edits import remove_arg, rename_keyword
from bnfix.analysis.layers import BN_LAYERS

from bnfix.analysis.context import ModuleContext
from bnfix.fixes.fix import Fix
from bnfix.fixes.safety import FixSafety
from bnfix.rules.base import Invalid, Rule, Valid, Violation

_IMPORTS = "from tensorflow import keras\nfrom tensorflow.keras import layers\n"

# Keras 3 and tf.keras 2: BatchNormalization(axis=-1, momentum=0.99, epsilon=1e-3, ...).
_MOMENTUM_POSITION = 1


@dataclass(frozen=True)
class ForeignArgument:
    """A keyword some other library or Keras version gives BatchNormalization, and what it becomes here."""

    name: str
    origin: str
    rename_to: str | None = None  # None: the argument is removed
    keras2_accepts: bool = False  # tf.keras 2.x / tf-keras have it
    keras3_accepts_from: keras_version.KerasVersion | None = None  # Keras 3 brought it back in this version
    # Literal values whose removal keeps behaviour (the argument's "off" setting); other values make it unsafe.
    inert_values: tuple[str, ...] = ()
    always_inert: bool = False  # removal never changes what the model computes
    effect: str = ""  # what removing an active value loses
    # Set when removing an active value would lose what no fix can restore: no fix then, and this advice instead.
    instead: str = ""


FOREIGN_ARGUMENTS = {
    argument.name: argument
    for argument in (
        ForeignArgument("moving_average_fraction", "Caffe's name for `momentum`, same convention", "momentum"),
        ForeignArgument("decay", "tf.contrib.layers.batch_norm's name for `momentum`, same convention", "momentum"),
        ForeignArgument("eps", "PyTorch's name for `epsilon`", "epsilon"),
        ForeignArgument("variance_epsilon", "tf.nn.batch_normalization's name for `epsilon`", "epsilon"),
        ForeignArgument("beta_init", "Keras 1's name for `beta_initializer`", "beta_initializer"),
        ForeignArgument("gamma_init", "Keras 1's name for `gamma_initializer`", "gamma_initializer"),
        ForeignArgument("mode", "Keras 1's normalisation mode", inert_values=("0",)),
        ForeignArgument("fused", "a tf.keras 2 implementation switch", keras2_accepts=True, always_inert=True),
        ForeignArgument(
            "virtual_batch_size", "tf.keras 2's Ghost Batch Normalization", keras2_accepts=True,
            inert_values=("None",), effect="Ghost Batch Normalization's statistics over virtual sub-batches",
        ),
        ForeignArgument(
            "adjustment", "tf.keras 2's scale/offset adjustment hook", keras2_accepts=True,
            inert_values=("None",), effect="the adjustment function",
        ),
        ForeignArgument(
            "weights", "Keras 2's initial weights", keras2_accepts=True, inert_values=("None",),
            instead="build the layer first, then give it its weights with `layer.set_weights(...)`",
        ),
        ForeignArgument(
            "renorm", "Batch Renormalization", keras2_accepts=True, keras3_accepts_from=(3, 14),
            inert_values=("False",), effect="Batch Renormalization",
        ),
        ForeignArgument(
            "renorm_clipping", "a Batch Renormalization setting", keras2_accepts=True, keras3_accepts_from=(3, 14),
            inert_values=("None",), effect="the renormalization clipping",
        ),
        ForeignArgument(
            "renorm_momentum", "a Batch Renormalization setting", keras2_accepts=True, keras3_accepts_from=(3, 14),
            inert_values=("0.99",), effect="the renormalization momentum",
        ),
    )
}  # fmt: skip

# Keras 1 `mode` values other than 0, and what code written for them expected.
_KERAS1_MODES = {
    "1": "mode=1 normalised each sample over its own features (like LayerNormalization)",
    "2": "mode=2 used the batch's statistics at test time too",
}


def momentum_arg(call: cst.Call) -> cst.Arg | None:
    """The argument that sets the momentum: `momentum=`, the second positional one, or a name BNF201 renames to it."""
    arg = keyword_arg(call, "momentum")
    if arg is not None:
        return arg
    positional = positional_args(call)
    if len(positional) > _MOMENTUM_POSITION:
        return positional[_MOMENTUM_POSITION]
    aliases = [name for name, foreign in FOREIGN_ARGUMENTS.items() if foreign.rename_to == "momentum"]
    return next((arg for arg in call.args if arg.keyword is not None and arg.keyword.value in aliases), None)


def literal_number(node: cst.BaseExpression) -> Decimal | None:
    """`0.9`, `.9`, `9e-1`, `1` as an exact decimal; anything else (a name, an expression) is None."""
    if not isinstance(node, (cst.Float, cst.Integer)):
        return None
    try:
        return Decimal(node.value.replace("_", ""))
    except InvalidOperation:
        return None


def bn_constructors(ctx: ModuleContext) -> list[cst.Call]:
    """Every call that constructs Keras's BatchNormalization (resolved through the imports)."""
    return [call for call in ctx.node_index.calls if ctx.imports.keras_layer(call.func) in BN_LAYERS]


def _rejection(version: keras_version.KerasVersion | None) -> str:
    if keras_version.is_keras2(version):
        return "TypeError: Keyword argument not understood"
    return "ValueError: Unrecognized keyword arguments passed to BatchNormalization"


class UnknownBNArgument(Rule):
    """
    ## What it does
    Finds keyword arguments Keras's BatchNormalization does not have, written for Caffe, tf.contrib, PyTorch,
    `tf.nn`, Keras 1 or tf.keras 2, and renames them to the Keras argument or removes them:

    | argument | where it comes from | fix |
    |---|---|---|
    | `moving_average_fraction` | Caffe | `momentum` (same convention, value kept) |
    | `decay` | `tf.contrib.layers.batch_norm` | `momentum` (same convention, value kept) |
    | `eps`, `variance_epsilon` | PyTorch, `tf.nn.batch_normalization` | `epsilon` |
    | `beta_init`, `gamma_init` | Keras 1 | `beta_initializer`, `gamma_initializer` |
    | `mode` | Keras 1 | removed |
    | `fused`, `virtual_batch_size`, `adjustment` | tf.keras 2 | removed (Keras 3 only) |
    | `weights` | tf.keras 2 (initial weights) | `weights=None` removed; otherwise reported only (Keras 3 only) |
    | `renorm`, `renorm_clipping`, `renorm_momentum` | Batch Renormalization | removed (Keras 3.0 to 3.13 only) |

    Which Keras the code targets comes from `keras-version` in `[tool.bnfix]` (or `--keras-version`), else
    from the installed `keras` package's metadata (Keras is never imported), else the newest Keras. Code that
    imports from `tf_keras` targets tf-keras. tf.keras 2 and tf-keras accept `fused`, `virtual_batch_size`,
    `adjustment`, `weights` and `renorm*`; Keras 3 accepts `renorm*` again from 3.14.

    ## Why is this bad?
    The layer cannot even be built. Keras 3 raises
    `ValueError: Unrecognized keyword arguments passed to BatchNormalization` (tf.keras 2:
    `TypeError: Keyword argument not understood`), so the script crashes before training. The renamed
    arguments mean the same thing: Caffe's `moving_average_fraction` and tf.contrib's `decay` are, like
    Keras's `momentum`, the weight kept for the old statistics (`moving = moving * momentum + batch * (1 - momentum)`).

    ## Example
    ```python
    layers.BatchNormalization(moving_average_fraction=0.9, eps=1e-5, mode=0)
    ```

    Use instead:
    ```python
    layers.BatchNormalization(momentum=0.9, epsilon=1e-5)
    ```

    ## Fix safety
    Renames are safe: the value keeps its meaning. Removing an argument is safe when its value is the one
    that switches it off (`mode=0`, `fused=...`, `virtual_batch_size=None`, `renorm=False`...). Otherwise it is
    unsafe, because code written for it expected that behaviour: Keras 1's `mode=1` normalised each sample
    over its features and `mode=2` used batch statistics at test time; `renorm=True` trained with Batch
    Renormalization. A `mode` given by a variable is unknown, so its removal is unsafe too. When the
    target argument is given as well (`eps=...` next to `epsilon=...`) there is no automatic fix, nor for
    `weights=[...]`: removing it would build the layer without the (often pretrained) weights it was given, a
    model that runs and computes something else; the finding says to set them with `set_weights` once built.
    """

    code = "BNF201"
    name = "unknown-bn-argument"
    summary = "BatchNormalization keyword argument Keras rejects (Caffe, tf.contrib, Keras 1, tf.keras 2 names)"
    fix_safety = FixSafety.SAFE

    VALID = [
        Valid(_IMPORTS + "bn = layers.BatchNormalization(momentum=0.9, epsilon=1e-5, beta_initializer='zeros')\n"),
        Valid(_IMPORTS + "bn = layers.BatchNormalization(renorm=True, renorm_momentum=0.9)\n", options={"keras_version": "3.14"}),
        Valid(_IMPORTS + "bn = layers.BatchNormalization(fused=True, virtual_batch_size=8, weights=saved)\n", options={"keras_version": "2.15"}),
        Valid("import tf_keras\nbn = tf_keras.layers.BatchNormalization(fused=False)\n"),
        # Other layers and other libraries have their own arguments.
        Valid(_IMPORTS + "opt = keras.optimizers.SGD(decay=0.01)\nd = layers.Dropout(0.5, mode=1)\n"),
        Valid("import torch\nbn = torch.nn.BatchNorm1d(10, eps=1e-5, momentum=0.1)\n"),
        # Not Keras's BatchNormalization.
        Valid("class BatchNormalization:\n    def __init__(self, **kw):\n        pass\n\nbn = BatchNormalization(decay=0.9)\n"),
    ]
    INVALID = [
        Invalid(
            _IMPORTS + "bn = layers.BatchNormalization(moving_average_fraction=0.9)\n",
            _IMPORTS + "bn = layers.BatchNormalization(momentum=0.9)\n",
        ),
        Invalid(
            _IMPORTS + "bn = layers.BatchNormalization(decay=0.95, eps=1e-5, gamma_init='one')\n",
            _IMPORTS + "bn = layers.BatchNormalization(momentum=0.95, epsilon=1e-5, gamma_initializer='one')\n",
        ),
        Invalid(
            "from keras.layers import BatchNormalization\nbn = BatchNormalization(axis=1, mode=0)\n",
            "from keras.layers import BatchNormalization\nbn = BatchNormalization(axis=1)\n",
        ),
        # mode=2 changes behaviour: reported, fixed only with --unsafe-fixes.
        Invalid("from keras.layers import BatchNormalization\nbn = BatchNormalization(mode=2)\n"),
        Invalid(
            "from keras.layers import BatchNormalization\nbn = BatchNormalization(mode=2)\n",
            "from keras.layers import BatchNormalization\nbn = BatchNormalization()\n",
            options={"unsafe_fixes": True},
        ),
        Invalid(
            _IMPORTS + "bn = layers.BatchNormalization(fused=True)\n",
            _IMPORTS + "bn = layers.BatchNormalization()\n",
            options={"keras_version": "3.15"},
        ),
        Invalid(
            _IMPORTS + "bn = layers.BatchNormalization(weights=None)\n",
            _IMPORTS + "bn = layers.BatchNormalization()\n",
            options={"keras_version": "3.15"},
        ),
        # The weights it is given: reported, never removed, not even with --unsafe-fixes.
        Invalid(_IMPORTS + "bn = layers.BatchNormalization(weights=saved)\n", options={"unsafe_fixes": True}),
        Invalid(
            _IMPORTS + "bn = layers.BatchNormalization(renorm=False)\n",
            _IMPORTS + "bn = layers.BatchNormalization()\n",
            options={"keras_version": "3.13"},
        ),
    ]

    def check(self, ctx: ModuleContext) -> Iterator[Violation]:
        for call in bn_constructors(ctx):
            version = keras_version.target_keras_version(ctx.settings, ctx.imports.qualified_name(call.func))
            for arg in call.args:
                foreign = FOREIGN_ARGUMENTS.get(arg.keyword.value) if arg.keyword is not None else None
                if foreign is not None and not _accepted(foreign, version):
                    yield _violation(call, arg, foreign, version)


def _accepted(foreign: ForeignArgument, version: keras_version.KerasVersion | None) -> bool:
    if keras_version.is_keras2(version):
        return foreign.keras2_accepts
    return foreign.keras3_accepts_from is not None and keras_version.at_least(version, foreign.keras3_accepts_from)


def _violation(
    call: cst.Call, arg: cst.Arg, foreign: ForeignArgument, version: keras_version.KerasVersion | None
) -> Violation:
    name, value = foreign.name, _code(arg.value)
    rejection = _rejection(version)
    if foreign.keras3_accepts_from is not None and not keras_version.is_keras2(version):
        since = ".".join(map(str, foreign.keras3_accepts_from))
        target = keras_version.describe(version)
        problem = f"`{name}` ({foreign.origin}) exists in Keras 3 only from {since}; {target} raises {rejection}"
    else:
        problem = f"BatchNormalization has no `{name}` ({foreign.origin}): {rejection}"
    if foreign.rename_to is not None:
        if keyword_arg(call, foreign.rename_to) is not None:
            return Violation(arg, f"{problem}; `{foreign.rename_to}` is given too: remove one of them")
        renamed = rename_keyword(call, arg, foreign.rename_to)
        fix = Fix({call: renamed}, f"Rename `{name}={value}` to `{foreign.rename_to}={value}`")
        return Violation(arg, f"{problem}; Keras calls it `{foreign.rename_to}`", fix)
    removed = remove_arg(call, arg)
    consequence = _removal_consequence(call, arg, foreign)
    if consequence is None:
        return Violation(arg, problem, Fix({call: removed}, f"Remove `{name}={value}` (it changes nothing)"))
    if foreign.instead:  # removing it would turn a crash into a model that silently lacks what it was given
        return Violation(arg, f"{problem}; {foreign.instead}")
    fix = Fix({call: removed}, f"Remove `{name}={value}` (behaviour changes)", FixSafety.UNSAFE)
    return Violation(arg, f"{problem}; removing it changes behaviour: {consequence}", fix)


def _removal_consequence(call: cst.Call, arg: cst.Arg, foreign: ForeignArgument) -> str | None:
    """Why removing `arg` changes what the model computes, or None when it changes nothing."""
    value = _code(arg.value)
    if foreign.always_inert or value in foreign.inert_values:
        return None
    if foreign.name.startswith("renorm_"):
        renorm = keyword_arg(call, "renorm")
        if renorm is None or _code(renorm.value) == "False":
            return None  # a setting of Batch Renormalization, which is off
    if foreign.name == "mode":
        if value in _KERAS1_MODES:
            return f"{_KERAS1_MODES[value]}; Keras normalises each feature with the moving statistics at inference"
        return f"the value of `mode={value}` is unknown here, and Keras 1 modes 1 and 2 behaved differently from 0"
    return f"the model loses {foreign.effect}"


def _code(node: cst.CSTNode) -> str:
    return cst.Module(body=[]).code_for_node(node)


class PyTorchMomentum(Rule):
    """
    ## What it does
    Finds a literal BatchNormalization `momentum` below 0.5, such as `momentum=0.1`: PyTorch's default, written
    with PyTorch's meaning in mind, and rewrites it as `1 - value`.

    ## Why is this bad?
    The two libraries use opposite conventions. PyTorch's `momentum` is the weight of the new batch
    (`running = (1 - momentum) * running + momentum * batch`); Keras's is the weight of the old statistics
    (`moving = moving * momentum + batch * (1 - momentum)`). With `momentum=0.1` Keras keeps only 10% of the
    moving statistics at each update, so after training they are essentially the statistics of the last
    batch, and inference normalises every input with them.

    ## Example
    ```python
    layers.BatchNormalization(momentum=0.1)
    ```

    Use instead:
    ```python
    layers.BatchNormalization(momentum=0.9)
    ```

    ## Fix safety
    Unsafe: a small momentum is occasionally deliberate (statistics that follow a drifting input), and the
    fix changes the moving statistics the model ends training with. `momentum=0` is left alone: it is no
    PyTorch value anyone writes by accident, and `1 - 0` would freeze the statistics.
    """

    code = "BNF202"
    name = "pytorch-momentum"
    summary = "BatchNormalization momentum below 0.5: PyTorch's convention, the opposite of Keras's"
    fix_safety = FixSafety.UNSAFE

    VALID = [
        Valid(_IMPORTS + "bn = layers.BatchNormalization(momentum=0.9)\n"),
        Valid(_IMPORTS + "bn = layers.BatchNormalization(momentum=0.5)\n"),
        Valid(_IMPORTS + "bn = layers.BatchNormalization(momentum=0)\n"),
        Valid(_IMPORTS + "def block(m):\n    return layers.BatchNormalization(momentum=m)\n"),
        Valid("import torch\nbn = torch.nn.BatchNorm2d(16, momentum=0.1)\n"),
    ]
    INVALID = [
        Invalid(_IMPORTS + "bn = layers.BatchNormalization(momentum=0.1)\n"),
        Invalid(
            _IMPORTS + "bn = layers.BatchNormalization(momentum=0.1)\n",
            _IMPORTS + "bn = layers.BatchNormalization(momentum=0.9)\n",
            options={"unsafe_fixes": True},
        ),
        Invalid(
            _IMPORTS + "bn = layers.BatchNormalization(-1, 0.01)\n",
            _IMPORTS + "bn = layers.BatchNormalization(-1, 0.99)\n",
            options={"unsafe_fixes": True},
        ),
    ]

    def check(self, ctx: ModuleContext) -> Iterator[Violation]:
        for call in bn_constructors(ctx):
            arg = momentum_arg(call)
            value = literal_number(arg.value) if arg is not None else None
            if arg is None or value is None or not 0 < value < Decimal("0.5"):
                continue
            keras_value, written = format(1 - value, "f"), _code(arg.value)
            keyword = arg.keyword.value if arg.keyword is not None else "momentum"
            message = (
                f"{keyword}={written} looks like PyTorch's momentum (the new batch's weight); Keras keeps only "
                f"{float(value) * 100:g}% of the moving statistics per update: use momentum={keras_value}"
            )
            new_call = call.deep_replace(arg, arg.with_changes(value=cst.Float(keras_value)))
            fix = Fix({call: new_call}, f"Set {keyword}={keras_value} (1 - {written})", FixSafety.UNSAFE)
            yield Violation(arg, message, fix)
