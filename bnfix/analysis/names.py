"""Which expressions name Keras layers, activations and scikit-learn scalers, resolved through the imports.

A module-level class or function of the same name shadows the import: a local `class BatchNormalization`
is not Keras's, so no rule may touch it.
"""

from __future__ import annotations

import libcst as cst

from bnfix.analysis.node_index import NodeIndex

# Everything after one of these prefixes is the public Keras namespace.
_KERAS_PREFIXES = (
    "tensorflow.compat.v1.keras.",
    "tensorflow.compat.v2.keras.",
    "tensorflow.python.keras.",
    "tensorflow.keras.",
    "tf_keras.src.",
    "tf_keras.",
    "keras.src.",
    "keras.api.",
    "keras.",
)

_DEFINITIONS = (cst.FunctionDef, cst.ClassDef)
# Other names Keras exports for the same layer classes (`keras.layers.Convolution2D is keras.layers.Conv2D`; the
# Keras 1 names live on in old tutorials): rules see the class itself. tests/test_layer_tables.py checks the table
# against the installed Keras.
LAYER_ALIASES = {
    "Convolution1D": "Conv1D",
    "Convolution2D": "Conv2D",
    "Convolution3D": "Conv3D",
    "Convolution1DTranspose": "Conv1DTranspose",
    "Convolution2DTranspose": "Conv2DTranspose",
    "Convolution3DTranspose": "Conv3DTranspose",
    "SeparableConvolution1D": "SeparableConv1D",
    "SeparableConvolution2D": "SeparableConv2D",
    "AvgPool1D": "AveragePooling1D",
    "AvgPool2D": "AveragePooling2D",
    "AvgPool3D": "AveragePooling3D",
    "MaxPool1D": "MaxPooling1D",
    "MaxPool2D": "MaxPooling2D",
    "MaxPool3D": "MaxPooling3D",
    "GlobalAvgPool1D": "GlobalAveragePooling1D",
    "GlobalAvgPool2D": "GlobalAveragePooling2D",
    "GlobalAvgPool3D": "GlobalAveragePooling3D",
    "GlobalMaxPool1D": "GlobalMaxPooling1D",
    "GlobalMaxPool2D": "GlobalMaxPooling2D",
    "GlobalMaxPool3D": "GlobalMaxPooling3D",
    "GroupQueryAttention": "GroupedQueryAttention",
}
# Everything `keras.models` exports (Keras 3, and 2's `model_from_yaml`/`model_from_config`): beside
# `from keras.layers import *`, a `from keras.models import *` must not claim `Conv2D` (found in
# divamgupta/image-segmentation-keras). tests/test_layer_tables.py checks it against the installed Keras.
MODELS_EXPORTS = frozenset(
    {"Model", "Sequential", "clone_model", "load_model", "model_from_json", "save_model", "model_from_yaml", "model_from_config"}
)
RECURRENT_LAYERS = frozenset(
    {"SimpleRNN", "LSTM", "GRU", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D", "RNN", "Bidirectional", "CuDNNLSTM", "CuDNNGRU"}
)


def dotted_name(node: cst.BaseExpression) -> str | None:
    """`a.b.c` for a Name/Attribute chain, else None."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        head = dotted_name(node.value)
        return None if head is None else f"{head}.{node.attr.value}"
    return None


def keras_path(qualified: str) -> str | None:
    """`tensorflow.keras.layers.Dense` -> `layers.Dense`; None for a name outside Keras."""
    if qualified in ("keras", "tensorflow.keras", "tf_keras"):
        return ""
    for prefix in _KERAS_PREFIXES:
        if qualified.startswith(prefix):
            return qualified[len(prefix) :]
    return None


_INJECTED_SUBMODULES = ("keras.backend", "keras.layers", "keras.models", "keras.utils")


class ImportTable:
    """The names a module binds by import, and what they stand for."""

    def __init__(self, index: NodeIndex) -> None:
        """From the module's node index, which lists every import and definition in source order: no walk."""
        self.aliases: dict[str, str] = {}
        self.star_modules: list[str] = []
        for statement in index.imports:
            if isinstance(statement, cst.Import):
                self._add_import(statement)
            else:
                self._add_import_from(statement)
        self._add_injected_submodules(index)
        # Module-level definitions (not nested in a class or function) shadow imports of the same name.
        self._local_definitions = {
            definition.name.value
            for definition in index.definitions
            if not any(type(outer) in _DEFINITIONS for outer in index.ancestors(definition))
        }
        for name in self._local_definitions:
            self.aliases.pop(name, None)
        # Star-imported Keras modules with their Keras paths ("layers.", "models."), in import order.
        paths = ((module, keras_path(module + ".")) for module in self.star_modules)
        self._keras_stars = [(module, path) for module, path in paths if path is not None]
        # keras_name per node of the module (by id; the index keeps them alive): rules ask it of each callee 4-5 times.
        self._index = index
        self._keras_names: dict[int, str | None] = {}

    def _add_injected_submodules(self, index: NodeIndex) -> None:
        """keras-applications' idiom, copied by model zoos (classification_models, efficientnet): `backend, layers,
        models, keras_utils = get_submodules_from_kwargs(kwargs)` binds Keras's modules (or what the caller passes
        for them, Keras's by default) in that order."""
        for statement in index.statements:
            for small in statement.body:
                if not (isinstance(small, cst.Assign) and isinstance(small.value, cst.Call) and len(small.targets) == 1):
                    continue
                callee = dotted_name(small.value.func) or ""
                target = small.targets[0].target
                if callee.rsplit(".", 1)[-1] != "get_submodules_from_kwargs" or not isinstance(target, (cst.Tuple, cst.List)):
                    continue
                for element, module in zip(target.elements, _INJECTED_SUBMODULES):
                    if isinstance(element.value, cst.Name):
                        self.aliases[element.value.value] = module

    def _add_import(self, node: cst.Import) -> None:
        for alias in node.names:
            full = dotted_name(alias.name)
            if full is None:
                continue
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                self.aliases[alias.asname.name.value] = full
            else:  # `import tensorflow.keras` binds `tensorflow`
                head = full.split(".")[0]
                self.aliases[head] = head

    def _add_import_from(self, node: cst.ImportFrom) -> None:
        if node.relative or node.module is None:
            return
        module = dotted_name(node.module)
        if module is None:
            return
        if isinstance(node.names, cst.ImportStar):
            self.star_modules.append(module)
            return
        for alias in node.names:
            name = dotted_name(alias.name)
            if name is None:
                continue
            bound = alias.asname.name.value if alias.asname and isinstance(alias.asname.name, cst.Name) else name
            self.aliases[bound] = f"{module}.{name}"

    def qualified_name(self, node: cst.BaseExpression) -> str | None:
        """The fully qualified dotted name behind `node`, if it starts at an import."""
        dotted = dotted_name(node)
        if dotted is None:
            return None
        head, _, rest = dotted.partition(".")
        if head in self.aliases:
            target = self.aliases[head]
            return f"{target}.{rest}" if rest else target
        if head not in self._local_definitions:
            module = self._star_module_of(head)
            if module is not None:
                return f"{module}.{dotted}"
        return None

    def _star_module_of(self, name: str) -> str | None:
        """The Keras module a `from ... import *` gave `name`: `keras.models` for what it exports (the last such
        import wins, as in Python), else a layers module, else the first Keras module star-imported."""
        if name in MODELS_EXPORTS:
            models = [module for module, path in self._keras_stars if path == "models."]
            if models:
                return models[-1]
        layers = [module for module, path in self._keras_stars if path.startswith("layers.")]
        candidates = layers or [module for module, _ in self._keras_stars]
        return candidates[0] if candidates else None

    def keras_name(self, node: cst.BaseExpression) -> str | None:
        """`layers.BatchNormalization`, `activations.relu`, `ops.relu`... for a Keras reference, else None."""
        key = id(node)
        if key in self._keras_names:
            return self._keras_names[key]
        name = self._keras_name(node)
        if node in self._index:  # a node built by a rule may be gone, and its id reused, by the next question
            self._keras_names[key] = name
        return name

    def _keras_name(self, node: cst.BaseExpression) -> str | None:
        qualified = self.qualified_name(node)
        if qualified is None:
            return None
        path = keras_path(qualified)
        if path is None and qualified.startswith("tensorflow.nn."):
            return "nn." + qualified[len("tensorflow.nn.") :]
        return path

    def keras_layer(self, node: cst.BaseExpression) -> str | None:
        """The class name when `node` refers to a Keras layer class (`BatchNormalization`; `Conv2D` for its alias
        `Convolution2D`), else None."""
        path = self.keras_name(node)
        if not path:
            return None
        parts = path.split(".")
        if parts[0] != "layers" or len(parts) < 2:
            return None
        return LAYER_ALIASES.get(parts[-1], parts[-1])

    def local_name_for(self, qualified_suffix: str) -> str | None:
        """A name already bound to `keras.<qualified_suffix>` (e.g. `layers.Activation`), if any."""
        for alias, target in self.aliases.items():
            if keras_path(target) == qualified_suffix:
                return alias
        return None

    def sklearn_name(self, node: cst.BaseExpression) -> str | None:
        """`preprocessing.StandardScaler` for a scikit-learn reference, else None."""
        qualified = self.qualified_name(node)
        if qualified and qualified.startswith("sklearn."):
            return qualified[len("sklearn.") :]
        return None
