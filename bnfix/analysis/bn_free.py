"""Whether a model certainly holds no BatchNormalization: every call that builds it is known, and none builds BN.

BNF301 leaves `model(x, training=True)` alone for such a model: training mode is how its augmentation or dropout is
switched on. "Certainly": the model is bound, by a plain assignment, to a `Sequential(...)` (with its later `add`
calls), a functional `Model(inputs, outputs)` or an instance of a class of this module, and everything it is built
from is followed (through plain assignments, into the module's functions and classes) to calls that are each
- a Keras layer that is not a BatchNormalization, or another Keras building block (`Input`, ops, activations...);
- a method of the model itself (`self.dense(x)`), a builtin, or TensorFlow's or NumPy's own functions;
- a name bound here to one of these.
Anything else could hold BN: `keras.applications`, `load_model`, a parameter, a tensor that comes from elsewhere,
another library's function. Then the model is not certainly without BN, and the rule reports.
"""

from __future__ import annotations

import builtins

import libcst as cst

from bnfix.analysis.layers import BN_LAYERS
from bnfix.analysis.model_layers import FUNCTIONAL, MAX_TRACED, SEQUENTIAL, ModelResolver, loaded_names

_KERAS_BLOCKS = ("layers.", "ops.", "activations.", "initializers.", "regularizers.", "constraints.", "backend.", "random.", "nn.")
# TensorFlow's own batch normalisation ops, which a custom layer may build its BN from.
_BN_OPS = frozenset({"nn.batch_normalization", "nn.fused_batch_norm", "ops.batch_normalization"})
_KERAS_MODELS = frozenset({"Input", *SEQUENTIAL, *FUNCTIONAL})
_PLAIN_LIBRARIES = ("tensorflow.", "numpy.", "math.")
# Methods every Keras layer and model has (`self.add_weight(...)` in a custom layer's `build`).
_LAYER_METHODS = frozenset({"build", "call", "compile", "get_config", "get_weights", "set_weights", "get_layer", "summary"})


class _HoldsUnknown(Exception):
    """Something the model is built from is not known: it may hold BatchNormalization."""


def certainly_without_bn(models: ModelResolver, model: cst.BaseExpression) -> bool:
    if not isinstance(model, cst.Name):
        return False
    binding = models.bindings.before(model.value, model)
    if binding is None or binding.index is not None or not isinstance(binding.value, cst.Call):
        return False
    value = binding.value
    kind = models.ctx.imports.keras_name(value.func)
    definition = models.definitions.get(value.func.value) if isinstance(value.func, cst.Name) else None
    if kind not in SEQUENTIAL and kind not in FUNCTIONAL and not (isinstance(definition, cst.ClassDef) and definition.bases):
        return False
    roots: list[cst.CSTNode] = [value]
    if kind in SEQUENTIAL:
        roots += models.added_layers(model.value, binding.statement, model)
    try:
        return not _BnSearch(models).finds_bn(roots)
    except _HoldsUnknown:
        return False


class _BnSearch:
    def __init__(self, models: ModelResolver) -> None:
        self.models = models
        self.imports = models.ctx.imports
        self.seen: set[int] = set()
        self._members: set[str] | None = None

    def finds_bn(self, roots: list[cst.CSTNode]) -> bool:
        """Whether `roots`, and what they are built from, construct a BN layer (`_HoldsUnknown`: cannot tell)."""
        work = list(roots)
        while work:
            node = work.pop()
            if id(node) in self.seen:
                continue
            self.seen.add(id(node))
            if len(self.seen) > MAX_TRACED:
                raise _HoldsUnknown
            definition = isinstance(node, (cst.FunctionDef, cst.ClassDef))
            for call in self.models.index.calls_within(node):
                if self._builds_bn(call, work):
                    return True
            if definition:
                work += self._definitions_used(node)
                continue
            for name in loaded_names(node):
                work += self._origin(name)
        return False

    def _builds_bn(self, call: cst.Call, work: list[cst.CSTNode]) -> bool:
        func = call.func
        layer = self.imports.keras_layer(func)
        if layer is not None:
            return layer in BN_LAYERS
        keras = self.imports.keras_name(func)
        if keras is not None:
            if keras in _BN_OPS:
                return True
            if keras in _KERAS_MODELS or keras.startswith(_KERAS_BLOCKS):
                return False
            raise _HoldsUnknown  # applications, load_model, ...
        if isinstance(func, cst.Attribute):
            base = func.value
            if isinstance(base, cst.Call):  # super().__init__()
                return False
            if isinstance(base, cst.Name) and base.value == "self":  # a member never assigned may come from outside
                if func.attr.value in self._self_members() or func.attr.value.startswith("add_"):
                    return False
                raise _HoldsUnknown
        qualified = self.imports.qualified_name(func)
        if qualified is not None:
            if qualified.startswith(_PLAIN_LIBRARIES):
                return False
            raise _HoldsUnknown  # another library's function or class
        if isinstance(func, cst.Name):
            work += self._origin(func)  # a parameter called (`block_fn()`) could build anything: _HoldsUnknown
        return False  # a method of a local value (`x.reshape()`), whose value is followed where it is bound

    def _origin(self, name: cst.Name) -> list[cst.CSTNode]:
        """What a name read here stands for: its assigned value, or the module's function or class of that name;
        [] for an import or a builtin; `_HoldsUnknown` for anything else (a parameter, a loop variable...)."""
        binding = self.models.bindings.before(name.value, name)
        if binding is not None:
            if binding.index is not None:
                raise _HoldsUnknown  # unpacked from something: not followed
            value = binding.value
            roots: list[cst.CSTNode] = [value]
            if isinstance(value, cst.Call) and self.imports.keras_name(value.func) in SEQUENTIAL:
                roots += self.models.added_layers(name.value, binding.statement, name)
            return roots
        if name.value in self.models.definitions:
            return [self.models.definitions[name.value]]
        if self.imports.qualified_name(name) is not None or hasattr(builtins, name.value):
            return []
        if name.value == "self":
            return []
        raise _HoldsUnknown

    def _self_members(self) -> set[str]:
        """The names the module's classes give their instances: `self.NAME = ...`, and their methods."""
        if self._members is None:
            members = set(_LAYER_METHODS)
            for definition in self.models.index.definitions:
                if isinstance(definition, cst.FunctionDef) and isinstance(self.models.index.parent(self.models.index.parent(definition)), cst.ClassDef):
                    members.add(definition.name.value)
            for statement in self.models.index.statements:
                for small in statement.body:
                    targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else []
                    targets += [small.target] if isinstance(small, (cst.AnnAssign, cst.AugAssign)) else []
                    for target in targets:
                        if isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name) and target.value.value == "self":
                            members.add(target.attr.value)
            self._members = members
        return self._members

    def _definitions_used(self, definition: cst.CSTNode) -> list[cst.CSTNode]:
        """The module's functions and classes a definition refers to, its base classes among them (a base from
        another library may build BN in its own `__init__`)."""
        if isinstance(definition, cst.ClassDef):
            for base in definition.bases:
                known = self.imports.keras_name(base.value) is not None or (
                    isinstance(base.value, cst.Name) and base.value.value in self.models.definitions
                )
                if not known and not (isinstance(base.value, cst.Name) and base.value.value == "object"):
                    raise _HoldsUnknown
        referred = self.models.referred_names(definition)
        return [self.models.definitions[name] for name in referred if name in self.models.definitions]
