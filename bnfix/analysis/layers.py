"""What a Keras layer constructor or activation reference is, for the rules that reason about layer order."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Callable

import libcst as cst

from bnfix.analysis.calls import keyword_arg, positional_args
from bnfix.analysis.names import RECURRENT_LAYERS, ImportTable


class StepKind(enum.Enum):
    WEIGHTED = "weighted"  # Dense / Conv*: a linear map with an optional fused activation
    BN = "bn"
    ACTIVATION = "activation"
    DROPOUT = "dropout"
    OTHER = "other"  # a known Keras layer that is none of the above (pooling, recurrent, Flatten...)
    UNKNOWN = "unknown"  # not resolvable: a barrier no rule reasons across


BN_LAYERS = frozenset({"BatchNormalization", "SyncBatchNormalization"})
DROPOUT_LAYERS = frozenset({"Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "AlphaDropout", "GaussianDropout"})

# Position of `activation` among the positional parameters (Keras 3 signatures; checked in tests against keras).
ACTIVATION_POSITION = {
    "Dense": 1,
    "Conv1D": 7,
    "Conv2D": 7,
    "Conv3D": 7,
    "Conv1DTranspose": 7,
    "Conv2DTranspose": 7,
    "Conv3DTranspose": 7,
    "SeparableConv1D": 7,
    "SeparableConv2D": 7,
    "DepthwiseConv1D": 6,
    "DepthwiseConv2D": 6,
}
WEIGHTED_LAYERS = frozenset(ACTIVATION_POSITION) | {"EinsumDense"}

# Activation layers and the activation each applies.
ACTIVATION_LAYERS = {"ReLU": "relu", "LeakyReLU": "leaky_relu", "ELU": "elu", "PReLU": "prelu", "Softmax": "softmax"}
# Activation functions by their Keras / tf.nn path.
ACTIVATION_FUNCTION_NAMESPACES = ("activations.", "ops.", "ops.nn.", "nn.", "backend.")
KNOWN_ACTIVATIONS = frozenset(
    {
        "relu", "relu6", "elu", "selu", "gelu", "silu", "swish", "mish", "tanh", "sigmoid", "hard_sigmoid",
        "hard_silu", "hard_swish", "softplus", "softsign", "leaky_relu", "prelu", "exponential", "log_softmax",
        "softmax", "celu", "glu", "sparse_plus", "squareplus", "tanh_shrink", "relu_x",
    }
)  # fmt: skip
# Activations that end a network rather than sit between hidden layers: BN is never moved across them.
OUTPUT_ACTIVATIONS = frozenset({"softmax", "log_softmax"})
LINEAR = "linear"


class Unresolved:
    """An activation given by a variable or parameter: its value is not knowable from the source."""

    def __repr__(self) -> str:
        return "UNRESOLVED"


UNRESOLVED = Unresolved()


@dataclass(frozen=True)
class LayerInfo:
    kind: StepKind
    name: str | None  # Keras class name, or activation function name
    activation: str | None | Unresolved = None  # what the step applies (ACTIVATION) or fuses (WEIGHTED)
    activation_node: cst.BaseExpression | None = None  # the expression giving it
    activation_arg: cst.Arg | None = None  # for WEIGHTED: the `activation=` argument

    @property
    def fused_activation(self) -> bool:
        """A WEIGHTED layer whose activation is a known non-linearity."""
        return self.kind is StepKind.WEIGHTED and isinstance(self.activation, str) and self.activation != LINEAR

    @property
    def movable_activation(self) -> bool:
        """An ACTIVATION step BN may be moved across: known, non-linear, not an output activation."""
        return (
            self.kind is StepKind.ACTIVATION
            and isinstance(self.activation, str)
            and self.activation not in OUTPUT_ACTIVATIONS
            and self.activation != LINEAR
        )


# Resolves a name to the literal it certainly holds (`bnfix.analysis.bindings.Bindings.constant`), or None.
ConstantLookup = Callable[[cst.Name], "cst.BaseExpression | None"]


def activation_value(
    imports: ImportTable, node: cst.BaseExpression | None, constant: ConstantLookup | None = None
) -> str | None | Unresolved:
    """`"relu"` / `tf.nn.relu` / `keras.activations.relu` -> "relu"; `None` -> None; a variable -> UNRESOLVED,
    unless `constant` knows it as a simple constant (`activation = "relu"`, assigned once, never rebound)."""
    if node is None:
        return None
    if isinstance(node, cst.Name) and node.value != "None" and constant is not None:
        value = constant(node)
        if value is not None:
            return activation_value(imports, value)
    if isinstance(node, cst.SimpleString):
        text = node.evaluated_value
        return text.lower() if isinstance(text, str) else UNRESOLVED
    if isinstance(node, cst.Name) and node.value == "None":
        return None
    function = activation_function(imports, node)
    return function if function is not None else UNRESOLVED


def activation_function(imports: ImportTable, node: cst.BaseExpression) -> str | None:
    """The activation a function reference applies (`tf.nn.relu` -> "relu"), or None if it is not one."""
    path = imports.keras_name(node)
    if not path:
        return None
    for namespace in ACTIVATION_FUNCTION_NAMESPACES:
        if path.startswith(namespace):
            name = path[len(namespace) :]
            if name in KNOWN_ACTIVATIONS:
                return name
    return None


def classify_constructor(imports: ImportTable, call: cst.Call, constant: ConstantLookup | None = None) -> LayerInfo:
    """What kind of layer `call` (a constructor call such as `Dense(64, activation="relu")`) builds; `constant`
    resolves an activation given by a simple constant."""
    name = imports.keras_layer(call.func)
    if name is None:
        return LayerInfo(StepKind.UNKNOWN, None)
    if name in BN_LAYERS:
        return LayerInfo(StepKind.BN, name)
    if name in DROPOUT_LAYERS:
        return LayerInfo(StepKind.DROPOUT, name)
    if name == "Activation":
        arg = keyword_arg(call, "activation") or next(iter(positional_args(call)), None)
        value = activation_value(imports, arg.value if arg else None, constant)
        if value is None or value is UNRESOLVED:
            return LayerInfo(StepKind.UNKNOWN, name, value)
        return LayerInfo(StepKind.ACTIVATION, name, value, arg.value if arg else None)
    if name in ACTIVATION_LAYERS:
        return LayerInfo(StepKind.ACTIVATION, name, ACTIVATION_LAYERS[name])
    if name in WEIGHTED_LAYERS:
        arg = fused_activation_arg(call, name)
        value = activation_value(imports, arg.value, constant) if arg else None
        return LayerInfo(StepKind.WEIGHTED, name, value, arg.value if arg else None, arg)
    if name in RECURRENT_LAYERS:  # the activation is internal to the cell: never reason about it
        return LayerInfo(StepKind.OTHER, name)
    return LayerInfo(StepKind.OTHER, name)


def fused_activation_arg(call: cst.Call, layer: str) -> cst.Arg | None:
    """The `activation` argument of a weighted layer, by keyword or by position."""
    arg = keyword_arg(call, "activation")
    if arg is not None:
        return arg
    position = ACTIVATION_POSITION.get(layer)
    positional = positional_args(call)
    if position is not None and position < len(positional):
        return positional[position]
    return None
