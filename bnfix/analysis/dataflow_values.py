"""What the preprocessing data flow tracks: arrays and where they came from, scalers and what they were fit on,
splits, model calls, and the flow of one straight-line block. `bnfix.analysis.dataflow` fills these in."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterator, Union

import libcst as cst

# Fitted on the data, so fitting them on evaluation data leaks it; `Normalizer` rescales each sample on its own
# (sklearn: "stateless ... the fit method does nothing"), so it only matters for raw-versus-scaled inputs.
SCALER_CLASSES = frozenset({
    "StandardScaler", "MinMaxScaler", "RobustScaler", "MaxAbsScaler", "QuantileTransformer", "PowerTransformer",
    "Normalizer",
})
STATELESS_SCALERS = frozenset({"Normalizer"})


class Root:
    """One array as it first appeared: loaded, generated, a function parameter, or one output of a split."""

    def __init__(self, name: str, statement: cst.SimpleStatementLine | None, parent: Root | None = None,
                 split: SplitEvent | None = None, position: int | None = None, inherited: tuple = (),
                 source_known: bool = False) -> None:
        self.name = name
        self.statement = statement
        self.parent = parent  # the array it was carved from (a split input, a sliced array)
        self.split = split
        self.position = position  # index among the split's outputs: even = training part, odd = evaluation part
        self.inherited = inherited  # the history it already had when it appeared (a split output's input history)
        self.source_known = source_known  # made by a data library or a literal, not by a helper or a caller

    def lineage(self) -> Iterator[Root]:
        root: Root | None = self
        while root is not None:
            yield root
            root = root.parent

    def __repr__(self) -> str:
        return f"Root({self.name!r})"


@dataclass(eq=False)
class Scaler:
    class_name: str
    constructor: cst.Call
    normalization_layer: bool = False  # keras `layers.Normalization` (adapt) rather than a sklearn scaler
    # From this point of the flow on, it may be fit where we cannot follow (a comprehension, a helper, a pipeline).
    opaque_from: int | None = None
    fits: list[FitEvent] = field(default_factory=list)

    def opaque_at(self, order: int) -> bool:
        return self.opaque_from is not None and self.opaque_from <= order

    def make_opaque(self, order: int) -> None:
        if self.opaque_from is None:
            self.opaque_from = order

    @property
    def stateless(self) -> bool:
        return self.class_name in STATELESS_SCALERS


@dataclass(frozen=True)
class Scaling:
    scaler: Scaler
    fit: FitEvent | None  # the fit in force when the transform ran


@dataclass(frozen=True)
class Array:
    root: Root
    history: tuple = ()  # Scaling steps, and TOUCHED for steps we cannot follow (a helper, `x / 255`)
    part: bool = False  # selected rows (`x[:100]`): bound to a new name, it becomes a root of its own

    @property
    def scalings(self) -> tuple[Scaling, ...]:
        return tuple(step for step in self.history if isinstance(step, Scaling))

    def unscaled_counterpart_of(self, trained: Array) -> bool:
        """Did this array skip every scaler that `trained` went through, with nothing unseen done to it either?
        Split siblings are compared from the split on; unrelated data must come from a data library untouched."""
        if self.scalings or self.history != self.root.inherited:
            return False
        if set(self.root.lineage()) & set(trained.root.lineage()):
            return True
        return self.root.source_known and not self.history


@dataclass(frozen=True)
class Concat:
    parts: tuple[Value, ...]


@dataclass(frozen=True)
class Items:
    values: tuple[Value, ...]


class _Opaque:
    def __init__(self, label: str) -> None:
        self.label = label

    def __repr__(self) -> str:
        return self.label


TOUCHED = _Opaque("TOUCHED")
UNKNOWN = _Opaque("UNKNOWN")  # nothing known: a user helper's result, a conditional expression
FRESH = _Opaque("FRESH")  # new data from a library or a literal (np.random.rand, pd.read_csv, mnist.load_data)

Value = Union[Array, Scaler, Concat, Items, "SplitEvent", _Opaque]


@dataclass(eq=False)
class FitEvent:
    scaler: Scaler
    data: Value
    call: cst.Call
    statement: cst.SimpleStatementLine
    order: int

    @property
    def method(self) -> str:
        return self.call.func.attr.value  # type: ignore[attr-defined]


@dataclass(eq=False)
class SplitEvent:
    call: cst.Call
    statement: cst.SimpleStatementLine
    order: int
    inputs: list[Value]
    input_args: list[cst.Arg]
    targets: list[cst.Name] | None = None  # the Name targets, when unpacked into 2 x len(inputs) names
    # A later split that rebinds every one of this split's targets before any of them is read: this one is dead.
    overwritten_by: SplitEvent | None = None


@dataclass(eq=False)
class ModelEvent:
    model: object  # identity of the model value
    method: str  # "fit", "validation" or one of MODEL_USES
    data: Value
    node: cst.BaseExpression  # the argument expression
    call: cst.Call
    statement: cst.SimpleStatementLine
    order: int


@dataclass(frozen=True)
class Binding:
    value: Value
    statement: cst.SimpleStatementLine | None
    order: int


@dataclass
class Flow:
    """One straight-line block and everything that happened in it, in order."""

    scope: cst.CSTNode  # the Module or FunctionDef whose names are in play
    fits: list[FitEvent] = field(default_factory=list)
    splits: list[SplitEvent] = field(default_factory=list)
    model_events: list[ModelEvent] = field(default_factory=list)
    roots: list[Root] = field(default_factory=list)
    rebinds: dict[str, list[int]] = field(default_factory=dict)  # name -> orders at which it was bound
    env_at: dict[cst.Call, dict[str, Binding]] = field(default_factory=dict)  # names visible at each event
    transforms: list[tuple[Scaling, Value]] = field(default_factory=list)  # every transform: with which fit, of what
    statement_index: dict[cst.SimpleStatementLine, int] = field(default_factory=dict)  # straight-line order
    scaler_names: dict[Scaler, list[tuple[str, cst.SimpleStatementLine | None]]] = field(default_factory=dict)

    def rebound_between(self, name: str, start: int, end: int) -> bool:
        return any(start < order < end for order in self.rebinds.get(name, []))


# ------------------------------------------------------------------------------------------------- value helpers


def derived(source: Value, root: Root) -> Array:
    return Array(root, source.history) if isinstance(source, Array) else Array(root)


def touched(value: Value) -> Value:
    """The same rows, changed in a way we cannot follow (hand scaling, a helper, an in-place edit)."""
    return Array(value.root, value.history + (TOUCHED,), value.part) if isinstance(value, Array) else UNKNOWN


def scaled(data: Value, scaling: Scaling) -> Value:
    return Array(data.root, data.history + (scaling,), data.part) if isinstance(data, Array) else UNKNOWN


def rows(base: Array, node: cst.Subscript) -> Array:
    """`x[:, 0]`, `df["col"]`, `df[["a", "b"]]` keep every row; `x[:100]`, `x[mask]`, `x[0]` select some."""
    first = node.slice[0].slice
    if isinstance(first, cst.Slice) and first.lower is None and first.upper is None and first.step is None:
        return base
    if isinstance(first, cst.Index) and isinstance(first.value, (cst.SimpleString, cst.List)):
        return base
    return replace(base, part=True)


def flatten(values: list[Value]) -> Iterator[Value]:
    for value in values:
        if isinstance(value, Items):
            yield from flatten(list(value.values))
        else:
            yield value


