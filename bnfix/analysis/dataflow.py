"""Straight-line data flow for the preprocessing rules (BNF401-BNF405), computed once per module and shared.

Each block (the module body, each function body) is followed statement by statement: which names hold a scaler,
what each scaler was fit on, which arrays were split into training and evaluation parts, and which arrays reached
`fit`, `evaluate` and `predict` scaled or raw. `with` bodies and the `if __name__ == "__main__":` guard run once and
are followed; any other branch, loop or `try` that touches the tracked calls ends the block, because the analysis
would have to guess how often it ran. A split whose every output is rebound by a later split before anything reads
it (not even a branch, a loop or a function defined in between) is marked overwritten: what follows sees only the
later split's data. What a user helper returns is unknown, never raw. Roles (train, evaluation)
are resolved afterwards in `bnfix.analysis.data_roles`, when all the evidence of the block is in.
"""

from __future__ import annotations

from itertools import groupby
from typing import Iterator, Sequence

import libcst as cst

from bnfix.analysis.dataflow_values import (
    FRESH, SCALER_CLASSES, UNKNOWN, Array, Binding, Concat, FitEvent, Flow, Items, ModelEvent, Root, Scaler,
    Scaling, SplitEvent, Value, derived, flatten, rows, scaled, touched,
)
from bnfix.analysis.assignments import Assignment, assignments
from bnfix.analysis.context import ModuleContext
from bnfix.analysis.node_index import children

_SPLIT = "model_selection.train_test_split"
MODEL_USES = frozenset({"evaluate", "predict", "predict_on_batch", "test_on_batch", "predict_proba", "predict_classes"})
FITTING_METHODS = frozenset({"fit", "fit_transform", "partial_fit", "adapt"})
_EVENT_METHODS = FITTING_METHODS | MODEL_USES | {"transform"}
# Operations that keep the samples and their values: the result is the same data in another container or shape.
_SAME_DATA_METHODS = frozenset(
    {"reshape", "astype", "copy", "to_numpy", "squeeze", "flatten", "ravel", "drop", "dropna"}
)
_SAME_DATA_ATTRIBUTES = frozenset({"values", "iloc", "loc"})
_SAME_DATA_FUNCTIONS = frozenset(
    {"numpy.array", "numpy.asarray", "numpy.expand_dims", "numpy.reshape", "numpy.squeeze", "numpy.copy",
     "pandas.DataFrame", "tensorflow.convert_to_tensor"}
)
_CONCATENATIONS = frozenset({"numpy.concatenate", "numpy.vstack", "numpy.row_stack", "pandas.concat"})
# Calls into these make new data (np.random.rand, pd.read_csv, keras.datasets...): raw, and of known origin.
_DATA_LIBRARIES = frozenset(
    {"numpy", "pandas", "tensorflow", "keras", "tf_keras", "sklearn", "scipy", "torch", "torchvision"}
)
# Readers make new data from a file name: `pd.read_csv(path + "test.csv")` does not hold the data of `path`.
_READERS = frozenset({"numpy.load", "numpy.loadtxt", "numpy.genfromtxt", "numpy.fromfile"})
# Builtins and modules that may be handed a scaler without fitting it.
# Per-sample fits in comprehensions, fits in conditional expressions: how often they ran is unknowable.
_CONDITIONAL_EXPRESSIONS = (
    cst.Lambda, cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp, cst.IfExp, cst.BooleanOperation
)
_HARMLESS = frozenset({"print", "len", "type", "repr", "str", "isinstance", "id", "joblib", "pickle", "logging"})


def module_flows(ctx: ModuleContext) -> list[Flow]:
    """The flows of every block in the module, computed once per module and shared by the five rules."""
    return ctx.shared("dataflow", lambda: _module_flows(ctx))


def _module_flows(ctx: ModuleContext) -> list[Flow]:
    flows = []
    if _imports_ml(ctx):
        blocks: list[tuple[cst.CSTNode, Sequence[cst.BaseStatement]]] = [(ctx.module, ctx.module.body)]
        functions = (node for node in ctx.node_index.definitions if isinstance(node, cst.FunctionDef))  # nested ones too
        blocks += [(fn, fn.body.body) for fn in functions if isinstance(fn.body, cst.IndentedBlock)]
        for scope, body in blocks:
            walker = _Walker(ctx, Flow(scope))
            walker.run(body)
            flows.append(walker.flow)
    return flows


def _imports_ml(ctx: ModuleContext) -> bool:
    """Scalers, splits and Normalization layers all come from sklearn or Keras imports."""
    targets = [*ctx.imports.aliases.values(), *ctx.imports.star_modules]
    return any(t.split(".")[0] in ("sklearn", "keras", "tensorflow", "tf_keras") for t in targets)


class _Walker:
    def __init__(self, ctx: ModuleContext, flow: Flow) -> None:
        self.ctx = ctx
        self.imports = ctx.imports
        self.assignments = assignments(ctx)
        self.flow = flow
        self.env: dict[str, Binding] = {}
        self.order = 0
        self.statement: cst.SimpleStatementLine | None = None
        self.read: set[int] = set()  # orders of the bindings something has read
        self.split_bindings: dict[int, SplitEvent] = {}  # binding order -> the split whose output it holds

    # ---------------------------------------------------------------------------------------------- statements

    def run(self, body: Sequence[cst.BaseStatement]) -> bool:
        """Follow `body`; False once a branch or loop touching the tracked calls ends the analysis."""
        for statement in body:
            if isinstance(statement, cst.SimpleStatementLine):
                self.statement = statement
                self.flow.statement_index[statement] = len(self.flow.statement_index)
                for small in statement.body:
                    self._small_statement(small)
            elif isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
                self._mark_read(statement)  # a function defined here may read a split's output when called
                for bound in self.assignments.bound_by(statement):
                    self._bind_name(bound.name, UNKNOWN, None)
            elif _runs_once(statement):
                for item in getattr(statement, "items", ()):
                    if item.asname is not None:
                        self._forget(self._summary(item.asname)[1])
                if not self.run(statement.body.body):  # type: ignore[attr-defined]
                    return False
            else:
                tracked, written = self._summary(statement)
                if tracked:
                    return False
                self._mark_read(statement)
                self._forget(written)
        return True

    def _small_statement(self, node: cst.BaseSmallStatement) -> None:
        if isinstance(node, cst.Assign) or (isinstance(node, cst.AnnAssign) and node.value is not None):
            self._bind(node, self.value(node.value))  # type: ignore[arg-type]
        elif isinstance(node, cst.AugAssign):
            self.value(node.value)
            self._bind(node, touched(self.value(node.target)))
        elif isinstance(node, (cst.Expr, cst.Return)) and node.value is not None:
            self.value(node.value)
        elif isinstance(node, cst.Del):
            self._forget(self._summary(node)[1])
        else:  # `assert x_train.shape[0]`, `global x_train`: reads the analysis does not follow
            self._mark_read(node)

    def _tick(self) -> int:
        self.order += 1
        return self.order

    def _bind(self, statement: cst.CSTNode, value: Value) -> None:
        """Bind what `statement` (an assignment) binds, as the shared record lists it, to the parts of `value`."""
        for _, group in groupby(self.assignments.bound_by(statement), key=lambda bound: id(bound.whole_target)):
            bound = list(group)
            if isinstance(value, SplitEvent) and _unpacks(bound, 2 * len(value.inputs)):
                value.targets = [b.target for b in bound]  # type: ignore[misc]
                self._note_overwrite(value)
                for position, name in enumerate(b.name for b in bound):
                    source = value.inputs[position // 2]
                    parent = source.root if isinstance(source, Array) else None
                    root = self._root(name, parent, value, position, *_origin(source))
                    order = self._set(name, derived(source, root), self.statement)
                    self.split_bindings[order] = value
                continue
            for b in bound:
                if not b.in_place:
                    self._bind_name(b.name, _part(value, b.path), self.statement)
                elif b.name in self.env:  # `df[cols] = ...` changes df in place
                    self._set(b.name, touched(self.env[b.name].value), self.statement)

    def _bind_name(self, name: str, value: Value, statement: cst.SimpleStatementLine | None) -> None:
        if value is FRESH or value is UNKNOWN:
            value = Array(self._root(name, source_known=value is FRESH))
        elif isinstance(value, Array) and value.part:
            value = Array(self._root(name, value.root, None, None, *_origin(value)), value.history)
        self._set(name, value, statement)

    def _set(self, name: str, value: Value, statement: cst.SimpleStatementLine | None) -> int:
        order = self._tick()
        self.env[name] = Binding(value, statement, order)
        self.flow.rebinds.setdefault(name, []).append(order)
        if isinstance(value, Scaler):
            self.flow.scaler_names.setdefault(value, []).append((name, statement))
        return order

    def _note_overwrite(self, split: SplitEvent) -> None:
        """`split` is about to bind its targets: an earlier split whose outputs all hold still, unread, and all get
        rebound here, is dead from now on (`X_train, X_test = split(X_scaled)` then `X_train, X_test = split(X)`)."""
        bindings = [self.env.get(name.value) for name in split.targets or ()]
        earlier = {self.split_bindings.get(b.order) if b is not None else None for b in bindings}
        if len(earlier) != 1 or None in earlier:
            return
        dead = earlier.pop()
        rebound = {name.value for name in split.targets or ()}
        if dead is None or {name.value for name in dead.targets or ()} - rebound:
            return
        if not any(b.order in self.read for b in bindings if b is not None):
            dead.overwritten_by = split

    def _summary(self, node: cst.CSTNode) -> tuple[bool, set[str]]:
        """Does `node` make a tracked call, and which names does it bind or change (see `_compound_summary`)?"""
        return _compound_summary(self.assignments.within(node), self.ctx.node_index.calls_within(node), self.imports)

    def _mark_read(self, node: cst.CSTNode) -> None:
        """Every name in `node` counts as read, for code the walk does not follow (a branch, a function body)."""
        for name in self.ctx.node_index.names_within(node):
            if name in self.env:
                self.read.add(self.env[name].order)

    def _root(self, name: str, parent: Root | None = None, split: SplitEvent | None = None, position: int | None = None,
              inherited: tuple = (), source_known: bool = False) -> Root:
        root = Root(name, self.statement, parent, split, position, inherited, source_known)
        self.flow.roots.append(root)
        return root

    def _forget(self, names: set[str]) -> None:
        """Names written inside a branch or loop: their role survives, their contents become unknown."""
        for name in names:
            old = self.env.get(name)
            value = old.value if old else None
            self._set(name, touched(value) if isinstance(value, Array) else Array(self._root(name)), None)

    # --------------------------------------------------------------------------------------------- expressions

    def value(self, node: cst.BaseExpression) -> Value:
        if isinstance(node, cst.Name):
            return self._lookup(node.value)
        if isinstance(node, (cst.Integer, cst.Float, cst.Imaginary, cst.SimpleString, cst.ConcatenatedString)):
            return FRESH
        if isinstance(node, (cst.Tuple, cst.List)):
            return Items(tuple(
                UNKNOWN if isinstance(element, cst.StarredElement) else self.value(element.value)
                for element in node.elements
            ))
        if isinstance(node, cst.Call):
            return self._call(node)
        if isinstance(node, cst.Attribute):
            if self.imports.qualified_name(node) is not None:
                return UNKNOWN
            base = self.value(node.value)
            if base is FRESH or (isinstance(base, Array) and node.attr.value in _SAME_DATA_ATTRIBUTES):
                return base  # `pd.read_csv(path).values`, `df.values`
            return UNKNOWN
        if isinstance(node, cst.Subscript):
            base = self.value(node.value)
            for element in node.slice:
                self._evaluate_children(element)
            return rows(base, node) if isinstance(base, Array) else UNKNOWN
        if isinstance(node, (cst.BinaryOperation, cst.UnaryOperation)):
            parts = (node.left, node.right) if isinstance(node, cst.BinaryOperation) else (node.expression,)
            operands = [self.value(part) for part in parts]
            if all(operand is FRESH for operand in operands):
                return FRESH
            return next((touched(o) for o in operands if isinstance(o, Array)), UNKNOWN)  # hand scaling: x / 255
        if isinstance(node, _CONDITIONAL_EXPRESSIONS):
            self._mark_fitted_inside(node)
            return UNKNOWN
        self._evaluate_children(node)
        return UNKNOWN

    def _evaluate_children(self, node: cst.CSTNode) -> None:
        for child in children(node):
            if isinstance(child, cst.BaseExpression):
                self.value(child)
            else:
                self._evaluate_children(child)

    def _lookup(self, name: str) -> Value:
        if name in self.env:
            self.read.add(self.env[name].order)
            return self.env[name].value
        if name in self.imports.aliases:
            return UNKNOWN
        # A parameter or a name from elsewhere: its role may show in its name, its contents are unknown.
        value = Array(self._root(name))
        self.env[name] = Binding(value, None, 0)
        return value

    def _call(self, call: cst.Call) -> Value:
        func = call.func
        qualified = self.imports.qualified_name(func)
        receiver = self.value(func.value) if isinstance(func, cst.Attribute) and qualified is None else None
        args = [self.value(arg.value) for arg in call.args]
        if receiver is not None:
            return self._method(call, receiver, func.attr.value, args)  # type: ignore[attr-defined]
        sklearn = self.imports.sklearn_name(func) or ""
        if sklearn.startswith("preprocessing.") and sklearn.rsplit(".", 1)[-1] in SCALER_CLASSES:
            return Scaler(sklearn.rsplit(".", 1)[-1], call)
        if self.imports.keras_layer(func) == "Normalization":
            return Scaler("Normalization", call, normalization_layer=True)
        if sklearn == _SPLIT or sklearn.endswith(".train_test_split"):
            inputs = [(arg, value) for arg, value in zip(call.args, args) if arg.keyword is None and not arg.star]
            split = SplitEvent(
                call, self.statement, self._tick(), [v for _, v in inputs], [a for a, _ in inputs]  # type: ignore[arg-type]
            )
            self.flow.splits.append(split)
            self.flow.env_at[call] = dict(self.env)
            return split
        if sklearn.startswith(("pipeline.", "compose.")):
            self._escape(args)  # a pipeline fits its scalers inside its own fit, on whatever that receives
            return UNKNOWN
        if qualified in _SAME_DATA_FUNCTIONS and args and isinstance(args[0], Array):
            return args[0]
        joined = qualified in _CONCATENATIONS and args and isinstance(args[0], Items)
        if joined and _keyword(call, "axis") in (None, "0"):
            return Concat(args[0].values)
        library = qualified is not None and qualified.split(".")[0] in _DATA_LIBRARIES
        if qualified in _READERS or (qualified or "").startswith("pandas.read_"):
            return FRESH
        called = (qualified or "").split(".")[0] or (func.value if isinstance(func, cst.Name) else "")
        if not library and called not in _HARMLESS:
            self._escape(args)  # a user helper may fit whatever scaler it is given
        arrays = [a for a in flatten(args) if isinstance(a, (Array, Concat, Scaler))]
        if not arrays:
            return FRESH if library else UNKNOWN  # a helper may return data scaled already
        return touched(arrays[0]) if len(arrays) == 1 else UNKNOWN

    def _method(self, call: cst.Call, receiver: Value, method: str, args: list[Value]) -> Value:
        if isinstance(receiver, Scaler):
            return self._scaler_method(call, receiver, method, args)
        if method == "fit" or method in MODEL_USES:
            if isinstance(receiver, Array):  # a named model: `build_model().fit(...)` links to nothing
                self._model_call(call, receiver, method, args)
            return UNKNOWN
        if isinstance(receiver, Array) and method in _SAME_DATA_METHODS:
            return receiver
        if any(isinstance(arg, (Array, Concat)) for arg in flatten(args)):
            return UNKNOWN  # `pca.transform(x)`: not the receiver's rows
        if receiver is FRESH:
            return FRESH  # `pd.read_csv(path).dropna()`
        return touched(receiver)  # `df.fillna(0)`: the same rows, values we cannot follow

    def _scaler_method(self, call: cst.Call, scaler: Scaler, method: str, args: list[Value]) -> Value:
        data = args[0] if args else UNKNOWN
        if method in ("fit", "fit_transform", "adapt"):
            event = FitEvent(scaler, data, call, self.statement, self._tick())  # type: ignore[arg-type]
            scaler.fits.append(event)
            self.flow.fits.append(event)
            self.flow.env_at[call] = dict(self.env)
            if method != "fit_transform":
                return scaler if method == "fit" else UNKNOWN
            scaling = Scaling(scaler, event)
        elif method == "transform":
            scaling = Scaling(scaler, scaler.fits[-1] if scaler.fits else None)
        else:
            scaling = None
        if scaling is not None:
            self.flow.transforms.append((scaling, data))
            return scaled(data, scaling)
        if method == "partial_fit":
            scaler.make_opaque(self._tick())
            return scaler
        return UNKNOWN

    def _model_call(self, call: cst.Call, model: Value, method: str, args: list[Value]) -> None:
        """Record which arrays reach `model.fit` (x, y, validation_data) and `evaluate`/`predict` (x)."""
        values = {id(arg): value for arg, value in zip(call.args, args)}
        positional = [arg for arg in call.args if arg.keyword is None and not arg.star]
        arguments: list[tuple[str, cst.BaseExpression, Value]] = []
        x = _keyword_arg(call, "x") or (positional[0] if positional else None)
        if x is not None:
            arguments.append((method, x.value, values[id(x)]))
        y = _keyword_arg(call, "y") or (positional[1] if len(positional) > 1 else None)
        if y is not None and method == "fit":
            arguments.append(("fit", y.value, values[id(y)]))
        validation = _keyword_arg(call, "validation_data")
        if method == "fit" and validation is not None and isinstance(validation.value, (cst.Tuple, cst.List)):
            items = values[id(validation)]
            for element, value in zip(validation.value.elements[:2], items.values if isinstance(items, Items) else ()):
                arguments.append(("validation", element.value, value))
        for kind, node, value in arguments:
            event = ModelEvent(model, kind, value, node, call, self.statement, self._tick())  # type: ignore[arg-type]
            self.flow.model_events.append(event)
        self.flow.env_at[call] = dict(self.env)

    def _escape(self, args: list[Value]) -> None:
        for value in flatten(args):
            if isinstance(value, Scaler):
                value.make_opaque(self._tick())

    def _mark_fitted_inside(self, node: cst.CSTNode) -> None:
        for call in self.ctx.node_index.calls_within(node):
            func = call.func
            fitting = isinstance(func, cst.Attribute) and func.attr.value in FITTING_METHODS
            if fitting and isinstance(func.value, cst.Name):  # type: ignore[union-attr]
                binding = self.env.get(func.value.value)  # type: ignore[union-attr]
                if binding is not None and isinstance(binding.value, Scaler):
                    binding.value.make_opaque(self._tick())


def _unpacks(bound: list[Assignment], count: int) -> bool:
    """`a, b, c, d = <split of two arrays>`: a flat tuple of exactly `count` names."""
    return len(bound) == count and all(len(b.path) == 1 and b.path[0][1] == count and not b.in_place for b in bound)


def _part(value: Value, path: tuple[tuple[int, int], ...]) -> Value:
    """The part of `value` a name at `path` in a tuple target receives: known for a tuple of the same length."""
    for index, count in path:
        if isinstance(value, Items) and len(value.values) == count:
            value = value.values[index]
        else:
            value = FRESH if value is FRESH else UNKNOWN
    return value


def _origin(source: Value) -> tuple[tuple, bool]:
    """What a root carved from `source` inherits: its history so far, and whether its source is known."""
    return (source.history, source.root.source_known) if isinstance(source, Array) else ((), False)


def _keyword_arg(call: cst.Call, name: str) -> cst.Arg | None:
    return next((arg for arg in call.args if arg.keyword is not None and arg.keyword.value == name), None)


def _keyword(call: cst.Call, name: str) -> str | None:
    arg = _keyword_arg(call, name)
    return None if arg is None else (arg.value.value if isinstance(arg.value, cst.Integer) else "?")


# ----------------------------------------------------------------------------------------- compound statements


def _runs_once(statement: cst.BaseStatement) -> bool:
    """`with` bodies and the main guard run exactly once, in line with the code around them."""
    if not isinstance(getattr(statement, "body", None), cst.IndentedBlock):
        return False
    if isinstance(statement, cst.With):
        return True
    if isinstance(statement, cst.If) and statement.orelse is None and isinstance(statement.test, cst.Comparison):
        test = statement.test
        return (
            isinstance(test.left, cst.Name)
            and test.left.value == "__name__"
            and len(test.comparisons) == 1
            and isinstance(test.comparisons[0].operator, cst.Equal)
            and isinstance(test.comparisons[0].comparator, cst.SimpleString)
            and test.comparisons[0].comparator.evaluated_value == "__main__"
        )
    return False


def _tracked_call(call: cst.Call, imports) -> bool:
    """Does this call fit, transform, split, adapt, evaluate or predict anything, or make a scaler?"""
    if isinstance(call.func, cst.Attribute) and call.func.attr.value in _EVENT_METHODS:
        return True
    sklearn = imports.sklearn_name(call.func) or ""
    if sklearn.endswith("train_test_split") or sklearn.rsplit(".", 1)[-1] in SCALER_CLASSES:
        return True
    return imports.keras_layer(call.func) == "Normalization"


def _compound_summary(written: list[Assignment], calls: list[cst.Call], imports) -> tuple[bool, set[str]]:
    """For a branch or loop: does it make any tracked call, and which names does it (re)bind or change in place
    (assignment, loop, `with`/`except` and `import ... as` targets, `x.append(...)` receivers)?"""
    names = {a.name for a in written if a.kind not in ("def", "import") or (a.kind == "import" and a.node.asname)}
    tracked = False
    for call in calls:
        tracked = tracked or _tracked_call(call, imports)
        func = call.func
        if isinstance(func, cst.Attribute):
            names.update(_receiver_names(func.value))
    return tracked, names


def _receiver_names(node: cst.BaseExpression) -> Iterator[str]:
    """The names under a method's receiver that the call may change: `x` of `x.append`, `x[0].append`, `a.b.add`."""
    if isinstance(node, cst.Name):
        yield node.value
    elif isinstance(node, (cst.Tuple, cst.List)):
        for element in node.elements:
            yield from _receiver_names(element.value)
    elif isinstance(node, (cst.StarredElement, cst.Subscript, cst.Attribute)):
        yield from _receiver_names(node.value)
