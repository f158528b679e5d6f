"""How many times `model.fit(...)` updates BatchNormalization's moving statistics: one update per training step.

steps = (epochs - initial_epoch) x batches per epoch, where batches per epoch is `steps_per_epoch` when given and
otherwise ceil(N / batch_size), N being the training rows left after `validation_split` (Keras keeps the first
floor(N x (1 - split)) rows). Keras's defaults: batch_size 32, epochs 1. Validation, `evaluate` and `predict`
never update the moving statistics. Anything the source does not make plain (N from a file, a dataset, a
generator, `**kwargs`) makes the budget unknown: None.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import libcst as cst

from bnfix.analysis.calls import keyword_arg, positional_args
from bnfix.analysis.sample_count import SampleCounter

DEFAULT_BATCH_SIZE = 32
DEFAULT_EPOCHS = 1
# Keras 3 `Model.fit(x, y, batch_size, epochs, ...)`: the arguments read here, by position.
_FIT_POSITIONS = {"x": 0, "y": 1, "batch_size": 2, "epochs": 3}


@dataclass(frozen=True)
class TrainingBudget:
    epochs: int
    batches_per_epoch: int
    batch_size: int | None = None  # None when `steps_per_epoch` fixes the batches
    samples: int | None = None

    @property
    def updates(self) -> int:
        return self.epochs * self.batches_per_epoch

    def describe(self) -> str:
        """`10 epochs x 4 batches of 32 from 100 samples`."""
        epochs = _plural(self.epochs, "epoch")
        if self.batch_size is None:
            return f"{epochs} x {_plural(self.batches_per_epoch, 'step')}"
        return f"{epochs} x {_plural(self.batches_per_epoch, 'batch', 'batches')} of {self.batch_size} from {self.samples} samples"


def _plural(count: int, singular: str, plural: str | None = None) -> str:
    return f"{count} {singular if count == 1 else plural or singular + 's'}"


def fit_argument(call: cst.Call, name: str) -> cst.Arg | None:
    """A `fit` argument by keyword or by its position."""
    arg = keyword_arg(call, name)
    if arg is not None or name not in _FIT_POSITIONS:
        return arg
    positional = positional_args(call)
    position = _FIT_POSITIONS[name]
    return positional[position] if position < len(positional) else None


def batch_size_of(counter: SampleCounter, call: cst.Call) -> int | None:
    """The batch size `fit` trains with; Keras's default when the argument is absent or None."""
    arg = fit_argument(call, "batch_size")
    if arg is None or (isinstance(arg.value, cst.Name) and arg.value.value == "None"):
        return DEFAULT_BATCH_SIZE
    size = counter.count(arg.value)
    return size if size else None


def training_budget(counter: SampleCounter, call: cst.Call) -> TrainingBudget | None:
    """The updates one `fit` call makes, or None when the source does not determine them."""
    if any(arg.star for arg in call.args):
        return None
    epochs = _count_or_default(counter, fit_argument(call, "epochs"), DEFAULT_EPOCHS)
    initial_epoch = _count_or_default(counter, fit_argument(call, "initial_epoch"), 0)
    if epochs is None or initial_epoch is None or epochs <= initial_epoch:
        return None
    epochs -= initial_epoch
    steps_arg = fit_argument(call, "steps_per_epoch")
    if steps_arg is not None and not _is_none(steps_arg.value):
        steps = counter.count(steps_arg.value)
        return TrainingBudget(epochs, steps) if steps else None
    x = fit_argument(call, "x")
    batch_size = batch_size_of(counter, call)
    samples = counter.rows(x.value) if x is not None else None
    if samples is None or batch_size is None:
        return None
    samples = _after_validation_split(counter, call, samples)
    if not samples:
        return None
    return TrainingBudget(epochs, math.ceil(samples / batch_size), batch_size, samples)


def _after_validation_split(counter: SampleCounter, call: cst.Call, samples: int) -> int | None:
    split_arg = keyword_arg(call, "validation_split")
    validation_data = keyword_arg(call, "validation_data")
    if split_arg is None or (validation_data is not None and not _is_none(validation_data.value)):
        return samples  # validation_data overrides validation_split
    split = counter.number(split_arg.value)
    if split is None or not 0 <= split < 1:
        return None
    return int(math.floor(samples * (1.0 - split))) if split else samples  # Keras's own arithmetic


def _count_or_default(counter: SampleCounter, arg: cst.Arg | None, default: int) -> int | None:
    if arg is None:
        return default
    return counter.count(arg.value)


def _is_none(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "None"
