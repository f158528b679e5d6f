"""What a model used as a frozen base is, as far as the source shows: pretrained or not, with BN and Dropout or not.

Four kinds of base carry pretrained BatchNormalization statistics: a `keras.applications` model of a family that
has BN, built with weights (the default, "imagenet"); a model loaded from a file (`keras.models.load_model`); a
model built in the module whose weights are then loaded (bnfix.analysis.weights); a model built in the module and
trained (`fit`, on its own or inside a model that holds it) before it is frozen, as a transfer script pretrains a
base on a source task. Anything else (a GAN's discriminator, frozen for the combined model before any training; a
base given as an argument) is not known to carry them, and gets None.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from bnfix.analysis.calls import keyword_arg
from bnfix.analysis.context import ModuleContext
from bnfix.analysis.layers import BN_LAYERS, DROPOUT_LAYERS
from bnfix.analysis.model_layers import loaded_names, model_resolver
from bnfix.analysis.names import dotted_name
from bnfix.analysis.weights import LOAD_MODEL, weight_sources


@dataclass(frozen=True)
class ApplicationFamily:
    has_bn: bool
    dropout: str  # "none"; "top": only in the classifier head (`include_top=True`); "blocks": inside the network


# The keras.applications families, read from the Keras 3.15 sources (tests/test_guards.py checks this table
# against the installed keras package): VGG has no normalisation at all, ConvNeXt uses LayerNormalization;
# EfficientNet's stochastic depth is Dropout inside its blocks; MobileNet and MobileNetV3 drop out in their heads.
_BLOCKS_DROPOUT = ApplicationFamily(True, "blocks")
_TOP_DROPOUT = ApplicationFamily(True, "top")
_BN_ONLY = ApplicationFamily(True, "none")
_NO_BN = ApplicationFamily(False, "none")
APPLICATION_FAMILIES: dict[str, ApplicationFamily] = {
    **{f"ConvNeXt{size}": _NO_BN for size in ("Tiny", "Small", "Base", "Large", "XLarge")},
    **{f"DenseNet{depth}": _BN_ONLY for depth in (121, 169, 201)},
    **{f"EfficientNetB{n}": _BLOCKS_DROPOUT for n in range(8)},
    **{f"EfficientNetV2{size}": _BLOCKS_DROPOUT for size in ("B0", "B1", "B2", "B3", "S", "M", "L")},
    "InceptionResNetV2": _BN_ONLY,
    "InceptionV3": _BN_ONLY,
    "MobileNet": _TOP_DROPOUT,
    "MobileNetV2": _BN_ONLY,
    "MobileNetV3Large": _TOP_DROPOUT,
    "MobileNetV3Small": _TOP_DROPOUT,
    "NASNetLarge": _BN_ONLY,
    "NASNetMobile": _BN_ONLY,
    **{f"ResNet{depth}": _BN_ONLY for depth in (50, 101, 152)},
    **{f"ResNet{depth}V2": _BN_ONLY for depth in (50, 101, 152)},
    "VGG16": _NO_BN,
    "VGG19": _NO_BN,
    "Xception": _BN_ONLY,
}


@dataclass(frozen=True)
class PretrainedBase:
    """A base known to carry pretrained statistics, described in words the message can use as they stand."""

    origin: str  # "is keras.applications.ResNet50 with pretrained weights", "was loaded from a file (line 3)"...
    has_bn: bool | None  # None: the source does not show its layers
    has_dropout: bool | None


def pretrained_base(ctx: ModuleContext, callee: str, call: cst.Call, frozen_at: cst.CSTNode) -> PretrainedBase | None:
    """What the model `callee`, frozen at `frozen_at` and called at `call`, is, when it carries pretrained BN
    statistics; None otherwise."""
    found = _definition(ctx, callee, call)
    if found is None:
        return None
    value, statement = found
    loaded = weight_sources(ctx).loaded_into(callee, call)
    name = ctx.imports.keras_name(value.func)
    if name is not None and name.startswith("applications."):
        family_name = name.rsplit(".", 1)[-1]
        family = APPLICATION_FAMILIES.get(family_name)
        if family is None or not family.has_bn:
            return None
        weights = keyword_arg(value, "weights")
        if weights is not None and _is_none(weights.value) and loaded is None:
            return None  # random initialisation: no pretrained statistics to protect
        include_top = keyword_arg(value, "include_top")
        head_dropped = include_top is not None and isinstance(include_top.value, cst.Name) and include_top.value.value == "False"
        dropout = family.dropout == "blocks" or (family.dropout == "top" and not head_dropped)
        return PretrainedBase(f"is keras.applications.{family_name} with pretrained weights", True, dropout)
    if name in LOAD_MODEL:
        return PretrainedBase(f"was loaded from a file (line {ctx.position(value).start.line})", None, None)
    layers = model_resolver(ctx).layers_of_value(value, callee, statement) if "." not in callee else None
    if loaded is not None:
        origin = f"had pretrained weights loaded (line {loaded.line})"
    else:
        trained = _trained_before(ctx, callee, frozen_at)
        if trained is None or layers is None:
            return None  # not trained before the freeze (a GAN's discriminator), or its layers are unknown
        origin = f"was trained (line {ctx.position(trained).start.line}) before the freeze"
    if layers is None:
        return PretrainedBase(origin, None, None)
    kinds = {ctx.imports.keras_layer(layer.func) for layer in layers}
    if not kinds & BN_LAYERS:
        return None
    return PretrainedBase(origin, True, bool(kinds & DROPOUT_LAYERS))


def _definition(ctx: ModuleContext, callee: str, call: cst.Call) -> tuple[cst.Call, cst.CSTNode] | None:
    """The call that built the model `callee` names at `call`: its plain assignment, or `self.x = ...` in the class."""
    models = model_resolver(ctx)
    if "." not in callee:
        binding = models.bindings.before(callee, call)
        if binding is None or binding.index is not None or not isinstance(binding.value, cst.Call):
            return None
        return binding.value, binding.statement
    if not callee.startswith("self.") or callee.count(".") != 1:
        return None
    klass = next((node for node in ctx.ancestors(call) if isinstance(node, cst.ClassDef)), None)
    if klass is None:
        return None
    values = [
        (small.value, statement)
        for statement in ctx.node_index.statements
        if klass in set(ctx.ancestors(statement))
        for small in statement.body
        if isinstance(small, cst.Assign)
        and len(small.targets) == 1
        and dotted_name(small.targets[0].target) == callee
        and isinstance(small.value, cst.Call)
    ]
    return values[0] if len(values) == 1 else None


TRAINING_METHODS = frozenset({"fit", "fit_generator", "train_on_batch"})


def _trained_before(ctx: ModuleContext, callee: str, frozen_at: cst.CSTNode) -> cst.Call | None:
    """A `fit` before the freeze, in its scope, on the model or on a model whose definition names it."""
    models = model_resolver(ctx)
    scope = models.bindings.scope_of(frozen_at)
    for call in ctx.node_index.calls:
        func = call.func
        if not (isinstance(func, cst.Attribute) and func.attr.value in TRAINING_METHODS):
            continue
        if not ctx.node_index.finished_before(call, frozen_at) or models.bindings.scope_of(call) is not scope:
            continue
        receiver = dotted_name(func.value)
        if receiver == callee:
            return call
        if receiver is not None and "." not in receiver and "." not in callee:
            binding = models.bindings.before(receiver, call)
            if binding is not None and any(name.value == callee for name in loaded_names(binding.value)):
                return call  # `Sequential([base, head]).fit(...)`
    return None


def _is_none(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "None"
