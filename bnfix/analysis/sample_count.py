"""How many rows (samples) an array has, and what a number is, when the source makes it plain.

Only what needs no guessing: NumPy / TensorFlow / Keras constructors with literal shapes (`np.random.rand(100, 10)`,
`np.zeros((N, 3))`), slices (`x[:80]`, `x[20:]`), tuple unpacking, `train_test_split` arithmetic, and names bound
to those by plain assignments (bnfix.analysis.bindings). Everything else (files, datasets, generators) is unknown: None.
"""

from __future__ import annotations

import math
from typing import Union

import libcst as cst

from bnfix.analysis.bindings import Binding, bindings
from bnfix.analysis.calls import keyword_arg, positional_args
from bnfix.analysis.context import ModuleContext

Number = Union[int, float]
MAX_DEPTH = 40  # name-following steps before giving up (cycles, very long pipelines)

# numpy.random functions (and Generator / RandomState methods) -> position of their `size` argument.
_RANDOM_SIZE_POSITION = {
    "random": 0, "random_sample": 0, "sample": 0, "ranf": 0, "standard_normal": 0, "uniform": 2, "normal": 2,
    "randint": 2, "integers": 2, "binomial": 2, "poisson": 1, "exponential": 1, "choice": 1, "beta": 2,
    "gamma": 2, "laplace": 2, "logistic": 2, "lognormal": 2,
}  # fmt: skip
_SHAPE_CONSTRUCTORS = {
    "numpy.zeros", "numpy.ones", "numpy.empty", "numpy.full", "tensorflow.zeros", "tensorflow.ones",
    "tensorflow.fill", "tensorflow.random.normal", "tensorflow.random.uniform", "tensorflow.random.truncated_normal",
    "keras.random.normal", "keras.random.uniform", "keras.ops.zeros", "keras.ops.ones", "keras.ops.full",
}  # fmt: skip
_SAME_ROWS = {
    "numpy.zeros_like", "numpy.ones_like", "numpy.empty_like", "numpy.full_like", "numpy.copy", "numpy.asarray",
    "numpy.array", "numpy.ascontiguousarray", "numpy.float32", "numpy.float64", "numpy.tanh", "numpy.sin",
    "numpy.exp", "numpy.abs", "numpy.maximum", "numpy.minimum", "numpy.where", "tensorflow.constant",
    "tensorflow.convert_to_tensor", "tensorflow.cast", "keras.ops.convert_to_tensor",
}  # fmt: skip
_ROW_PRESERVING_METHODS = {"astype", "copy", "to_numpy", "numpy", "squeeze", "clip", "round"}
_RANDOM_GENERATORS = {"numpy.random.default_rng", "numpy.random.RandomState", "numpy.random.Generator"}
_DATASET_MAKERS = {"make_classification", "make_regression", "make_blobs", "make_moons", "make_circles"}


class SampleCounter:
    """Evaluates row counts and numbers for one module; build one per rule run."""

    def __init__(self, ctx: ModuleContext) -> None:
        self.ctx = ctx
        self.bindings = bindings(ctx)

    # ----------------------------------------------------------------------------------------------- numbers

    def number(self, expr: cst.BaseExpression, depth: int = 0) -> Number | None:
        """The value of a numeric expression: literals, arithmetic, constants, `len(x)`, `x.shape[0]`."""
        if depth > MAX_DEPTH:
            return None
        if isinstance(expr, cst.Integer):
            return int(expr.evaluated_value)
        if isinstance(expr, cst.Float):
            return float(expr.evaluated_value)
        if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, (cst.Minus, cst.Plus)):
            value = self.number(expr.expression, depth + 1)
            return None if value is None else (-value if isinstance(expr.operator, cst.Minus) else value)
        if isinstance(expr, cst.BinaryOperation):
            return _arithmetic(expr.operator, self.number(expr.left, depth + 1), self.number(expr.right, depth + 1))
        if isinstance(expr, cst.Name):
            binding = self.bindings.before(expr.value, expr)
            if binding is not None:
                value = binding.value if binding.index is None else _element(binding.value, binding.index)
                return None if value is None else self.number(value, depth + 1)
            return None
        if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name) and len(expr.args) == 1:
            builtin = expr.func.value
            if builtin in ("int", "round", "float", "len") and self.ctx.imports.qualified_name(expr.func) is None:
                if builtin == "len":
                    return self.rows(expr.args[0].value, depth + 1)
                value = self.number(expr.args[0].value, depth + 1)
                if value is None:
                    return None
                return float(value) if builtin == "float" else (round(value) if builtin == "round" else int(value))
        if isinstance(expr, cst.Subscript) and _is_shape(expr.value) and _single_index(expr) is not None:
            index = self.number(_single_index(expr), depth + 1)  # type: ignore[arg-type]
            if index == 0:
                return self.rows(expr.value.value, depth + 1)  # type: ignore[attr-defined]
        return None

    def count(self, expr: cst.BaseExpression, depth: int = 0) -> int | None:
        """A non-negative whole number, or None."""
        value = self.number(expr, depth)
        if value is None or value < 0 or (isinstance(value, float) and not value.is_integer()):
            return None
        return int(value)

    # ----------------------------------------------------------------------------------------------- rows

    def rows(self, expr: cst.BaseExpression, depth: int = 0) -> int | None:
        """How many samples (first-axis length) `expr` has, or None when the source does not say."""
        if depth > MAX_DEPTH:
            return None
        if isinstance(expr, cst.Name):
            binding = self.bindings.before(expr.value, expr)
            return None if binding is None else self._bound_rows(binding, depth + 1)
        if isinstance(expr, cst.Call):
            return self._constructed_rows(expr, depth + 1)
        if isinstance(expr, cst.Subscript):
            return self._sliced_rows(expr, depth + 1)
        if isinstance(expr, cst.BinaryOperation):
            if isinstance(expr.operator, cst.MatrixMultiply):
                return self.rows(expr.left, depth + 1)
            return _broadcast(
                self.rows(expr.left, depth + 1),
                self.rows(expr.right, depth + 1),
                self.number(expr.left, depth + 1) is not None or self.number(expr.right, depth + 1) is not None,
            )
        if isinstance(expr, cst.UnaryOperation):
            return self.rows(expr.expression, depth + 1)
        if isinstance(expr, cst.Attribute) and expr.attr.value == "values":  # a pandas frame's array
            return self.rows(expr.value, depth + 1)
        if isinstance(expr, (cst.List, cst.Tuple)) and expr.elements:  # multi-input models: `fit([a, b], y)`
            return self.rows(expr.elements[0].value, depth + 1)
        return None

    def _bound_rows(self, binding: Binding, depth: int) -> int | None:
        if binding.index is None:
            return self.rows(binding.value, depth)
        element = _element(binding.value, binding.index)
        if element is not None:
            return self.rows(element, depth)
        if isinstance(binding.value, cst.Call):
            name = self.ctx.imports.sklearn_name(binding.value.func) or ""
            if name.endswith(".train_test_split"):
                return self._split_rows(binding.value, binding.index, depth)
            if name.split(".")[-1] in _DATASET_MAKERS:
                n_samples = keyword_arg(binding.value, "n_samples") or next(iter(positional_args(binding.value)), None)
                return 100 if n_samples is None else self.count(n_samples.value, depth)
        return None

    def _split_rows(self, call: cst.Call, index: int, depth: int) -> int | None:
        """scikit-learn's `train_test_split` arithmetic: rows of output `index` (train/test pairs per array)."""
        arrays = positional_args(call)
        if index // 2 >= len(arrays) or any(arg.star for arg in call.args):
            return None
        total = self.rows(arrays[index // 2].value, depth)
        if total is None:
            return None
        sizes = []
        for name in ("test_size", "train_size"):
            arg = keyword_arg(call, name)
            sizes.append(None if arg is None or _is_none(arg.value) else self.number(arg.value, depth))
            if arg is not None and not _is_none(arg.value) and sizes[-1] is None:
                return None
        test_size, train_size = sizes
        if test_size is None and train_size is None:
            test_size = 0.25
        n_test = None if test_size is None else (math.ceil(test_size * total) if isinstance(test_size, float) else test_size)
        n_train = None if train_size is None else (math.floor(train_size * total) if isinstance(train_size, float) else train_size)
        if n_train is None:
            n_train = total - n_test  # type: ignore[operator]
        if n_test is None:
            n_test = total - n_train
        result = n_train if index % 2 == 0 else n_test
        return int(result) if result >= 0 else None

    def _constructed_rows(self, call: cst.Call, depth: int) -> int | None:
        qualified = self.ctx.imports.qualified_name(call.func) or ""
        qualified = qualified.replace("tensorflow.keras.", "keras.")
        positional = positional_args(call)
        if any(arg.star for arg in call.args):
            return None
        if qualified in ("numpy.random.rand", "numpy.random.randn"):
            return self.count(positional[0].value, depth) if positional else None
        random_function = _random_function(qualified) or self._generator_method(call)
        if random_function is not None:
            position = _RANDOM_SIZE_POSITION[random_function]
            size = keyword_arg(call, "size") or (positional[position] if position < len(positional) else None)
            return None if size is None else self._first_dimension(size.value, depth)
        if qualified in _SHAPE_CONSTRUCTORS:
            shape = keyword_arg(call, "shape") or next(iter(positional), None)
            return None if shape is None else self._first_dimension(shape.value, depth)
        if qualified == "numpy.array" and positional and isinstance(positional[0].value, (cst.List, cst.Tuple)):
            elements = positional[0].value.elements
            return None if any(isinstance(e, cst.StarredElement) for e in elements) else len(elements)
        if qualified in _SAME_ROWS and positional:
            return self.rows(positional[0].value, depth)
        if qualified == "numpy.arange" and len(positional) in (1, 2) and len(call.args) == len(positional):
            bounds = [self.count(arg.value, depth) for arg in positional]
            if None in bounds:
                return None
            return bounds[0] if len(bounds) == 1 else max(0, bounds[1] - bounds[0])  # type: ignore[operator]
        if qualified == "numpy.linspace":
            num = keyword_arg(call, "num") or (positional[2] if len(positional) > 2 else None)
            return 50 if num is None else self.count(num.value, depth)
        if qualified in ("numpy.concatenate", "numpy.vstack", "numpy.row_stack", "numpy.stack") and positional:
            return self._joined_rows(call, qualified, depth)
        if isinstance(call.func, cst.Attribute):  # `x.astype(...)`; module functions were matched above
            return self._method_rows(call, depth)
        return None

    def _generator_method(self, call: cst.Call) -> str | None:
        """`rng.normal(size=...)` where `rng = np.random.default_rng(0)`."""
        func = call.func
        if not (isinstance(func, cst.Attribute) and func.attr.value in _RANDOM_SIZE_POSITION):
            return None
        receiver = func.value
        if isinstance(receiver, cst.Name):
            binding = self.bindings.before(receiver.value, receiver)
            receiver = binding.value if binding is not None and binding.index is None else receiver
        if isinstance(receiver, cst.Call) and self.ctx.imports.qualified_name(receiver.func) in _RANDOM_GENERATORS:
            return func.attr.value
        return None

    def _method_rows(self, call: cst.Call, depth: int) -> int | None:
        func = call.func
        assert isinstance(func, cst.Attribute)
        method = func.attr.value
        if method in _ROW_PRESERVING_METHODS:
            return self.rows(func.value, depth)
        if method == "reshape" and call.args:  # `reshape(100, -1)` or `reshape((100, -1))`; a leading -1 is unknown
            return self._first_dimension(call.args[0].value, depth)
        return None

    def _joined_rows(self, call: cst.Call, qualified: str, depth: int) -> int | None:
        parts = positional_args(call)[0].value
        axis = keyword_arg(call, "axis")
        if not isinstance(parts, (cst.List, cst.Tuple)) or (axis is not None and self.number(axis.value, depth) != 0):
            return None
        if qualified == "numpy.stack":
            return len(parts.elements)
        counts = [self.rows(element.value, depth) for element in parts.elements]
        return None if None in counts else sum(counts)  # type: ignore[arg-type]

    def _first_dimension(self, shape: cst.BaseExpression, depth: int) -> int | None:
        if isinstance(shape, (cst.Tuple, cst.List)):
            return self.count(shape.elements[0].value, depth) if shape.elements else None
        return self.count(shape, depth)

    def _sliced_rows(self, subscript: cst.Subscript, depth: int) -> int | None:
        if not subscript.slice:
            return None
        first = subscript.slice[0].slice
        if isinstance(first, cst.Index):
            return None  # `x[mask]`, `x[idx]`, `x[0]`: not knowable, or not a row selection
        total = self.rows(subscript.value, depth)
        bounds: list[int | None] = []
        for part in (first.lower, first.upper, first.step):
            value = None if part is None else self.number(part, depth)
            if part is not None and not isinstance(value, int):
                return None
            bounds.append(value)
        lower, upper, step = bounds
        if step == 0:
            return None
        if total is not None:
            return len(range(*slice(lower, upper, step).indices(total)))
        # `x[:N]` of an array of unknown length: at most N rows. Over-counting samples over-counts updates, so
        # a finding made with it holds for the true length too.
        if lower in (None, 0) and step in (None, 1) and upper is not None and upper >= 0:
            return int(upper)
        return None


def _random_function(qualified: str) -> str | None:
    if qualified.startswith("numpy.random."):
        name = qualified[len("numpy.random.") :]
        return name if name in _RANDOM_SIZE_POSITION else None
    return None


def _arithmetic(operator: cst.BaseBinaryOp, left: Number | None, right: Number | None) -> Number | None:
    if left is None or right is None:
        return None
    try:
        if isinstance(operator, cst.Add):
            return left + right
        if isinstance(operator, cst.Subtract):
            return left - right
        if isinstance(operator, cst.Multiply):
            return left * right
        if isinstance(operator, cst.Divide):
            return left / right
        if isinstance(operator, cst.FloorDivide):
            return left // right
        if isinstance(operator, cst.Modulo):
            return left % right
        if isinstance(operator, cst.Power) and abs(right) <= 64:
            return left**right
    except (ZeroDivisionError, OverflowError):
        return None
    return None


def _broadcast(left: int | None, right: int | None, other_is_scalar: bool) -> int | None:
    """Rows of `a op b`: equal row counts, or an array with a scalar (`x * 100`, `1.5 * x + 0.5`)."""
    if left is not None and right is not None:
        return left if left == right else None
    known = left if left is not None else right
    return known if known is not None and other_is_scalar else None


def _element(value: cst.BaseExpression, index: int) -> cst.BaseExpression | None:
    """`a[:8], a[8:]` unpacked at `index`."""
    if isinstance(value, (cst.Tuple, cst.List)) and not any(isinstance(e, cst.StarredElement) for e in value.elements):
        return value.elements[index].value if index < len(value.elements) else None
    return None


def _is_shape(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Attribute) and node.attr.value == "shape"


def _single_index(subscript: cst.Subscript) -> cst.BaseExpression | None:
    if len(subscript.slice) == 1 and isinstance(subscript.slice[0].slice, cst.Index):
        return subscript.slice[0].slice.value
    return None


def _is_none(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "None"
