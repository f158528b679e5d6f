"""Which expressions name Keras layers, activations and scikit-learn scalers, resolved through the imports.

A module-level class or function of the same name shadows the import: a local `class BatchNormalization`
is not Keras's, so no rule may touch it.
"""

from __future__ import annotations

import libcst as cst

from bnfix.analysis.node_index import walk

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


class ImportTable:
    """The names a module binds by import, and what they stand for."""

    def __init__(self, module: cst.Module) -> None:
        self.aliases: dict[str, str] = {}
        self.star_modules: list[str] = []
        collector = _ImportCollector(self)
        walk(module, collector)  # a read-only pass: the plain loop, not libcst's rebuilding visit
        for name in collector.local_definitions:
            self.aliases.pop(name, None)
        self._local_definitions = collector.local_definitions

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
            for module in self.star_modules:  # `from keras.layers import *`
                if keras_path(module + ".") is not None:
                    return f"{module}.{dotted}"
        return None

    def keras_name(self, node: cst.BaseExpression) -> str | None:
        """`layers.BatchNormalization`, `activations.relu`, `ops.relu`... for a Keras reference, else None."""
        qualified = self.qualified_name(node)
        if qualified is None:
            return None
        path = keras_path(qualified)
        if path is None and qualified.startswith("tensorflow.nn."):
            return "nn." + qualified[len("tensorflow.nn.") :]
        return path

    def keras_layer(self, node: cst.BaseExpression) -> str | None:
        """The class name when `node` refers to a Keras layer class (`BatchNormalization`), else None."""
        path = self.keras_name(node)
        if not path:
            return None
        parts = path.split(".")
        if parts[0] != "layers" or len(parts) < 2:
            return None
        return parts[-1]

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


class _ImportCollector(cst.CSTVisitor):
    def __init__(self, table: ImportTable) -> None:
        self.table = table
        self.local_definitions: set[str] = set()
        self._depth = 0

    def on_visit(self, node: cst.CSTNode) -> bool:
        # Imports and definitions are statements: nothing inside an expression can bind one, so skip them all.
        return not isinstance(node, cst.BaseExpression) and super().on_visit(node)

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            full = dotted_name(alias.name)
            if full is None:
                continue
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                self.table.aliases[alias.asname.name.value] = full
            else:  # `import tensorflow.keras` binds `tensorflow`
                head = full.split(".")[0]
                self.table.aliases[head] = head

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if node.relative or node.module is None:
            return
        module = dotted_name(node.module)
        if module is None:
            return
        if isinstance(node.names, cst.ImportStar):
            self.table.star_modules.append(module)
            return
        for alias in node.names:
            name = dotted_name(alias.name)
            if name is None:
                continue
            bound = alias.asname.name.value if alias.asname and isinstance(alias.asname.name, cst.Name) else name
            self.table.aliases[bound] = f"{module}.{name}"

    # Module-level definitions shadow imports of the same name.
    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        if self._depth == 0:
            self.local_definitions.add(node.name.value)
        self._depth += 1
        return True

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self._depth -= 1

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        if self._depth == 0:
            self.local_definitions.add(node.name.value)
        self._depth += 1
        return True

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._depth -= 1
