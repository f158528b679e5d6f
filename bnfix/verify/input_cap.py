"""`--max-samples N` for the inputs that are not arrays: tf.data datasets, Python generators and Keras PyDatasets.

Arrays are cut to the same fixed N rows (budget.fixed_rows). These cannot be cut by row without reading them, so
each keeps its first k = ceil(N / B) batches, B being the size of its first batch, in every epoch:

- a tf.data.Dataset becomes `.take(k)`; when the script sets the steps (`steps_per_epoch`, `steps`), Keras keeps
  one iterator across epochs, so it becomes `.take(k).repeat()` and the steps are capped at k;
- a PyDataset (keras.utils.Sequence) is seen through a view of its first k batches;
- a Python generator's first k batches are read once and replayed: every epoch when the script sets
  `steps_per_epoch` (capped at k), else once, as the generator itself is exhausted after one pass.

Both versions get the same batches, and so does every seed unless the pipeline itself depends on the seed (a
dataset that shuffles before batching picks its first rows anew, as it does by hand). What was kept is returned
for the record. Runs in the verify child only; imports Keras lazily.
"""

from __future__ import annotations

import math
import types
from typing import Any

KINDS = {"dataset": "tf.data.Dataset", "py_dataset": "PyDataset", "generator": "generator"}


def cap_input(x: Any, keep: int, steps: int | None) -> tuple[Any, int | None, dict | None]:
    """(the input to pass, the steps to pass, what was capped or None): arrays and unknown inputs unchanged."""
    kind = input_kind(x)
    if kind is None:
        return x, steps, None
    if kind == "generator":
        first = next(x, None)
        if first is None:  # an empty generator: nothing to keep, and Keras says so itself
            return _replay([], False), steps, None
        batch = _batch_size(first)
        if batch is None:
            return _replay([first], False, rest=x), steps, None
        count = math.ceil(keep / batch)
        batches = [first]
        while len(batches) < count:
            element = next(x, None)
            if element is None:  # fewer batches than the budget keeps: as it was
                return _replay(batches, False), steps, None
            batches.append(element)
        replayed = _replay(batches, cycle=steps is not None)
        return replayed, (min(steps, count) if steps is not None else None), _described(kind, count, batch)
    batch = _batch_size(_first_element(x, kind))
    if batch is None:
        return x, steps, None
    count = math.ceil(keep / batch)
    if kind == "dataset":
        known = _cardinality(x)
        if known is not None and known <= count:
            return x, steps, None  # no more batches than the budget keeps: untouched
        capped = x.take(count).repeat() if steps is not None else x.take(count)
        return capped, (min(steps, count) if steps is not None else None), _described(kind, count, batch, known)
    if len(x) <= count:
        return x, steps, None
    return _first_batches(x, count), (min(steps, count) if steps is not None else None), _described(kind, count, batch, len(x))


def input_kind(x: Any) -> str | None:
    if x is None:
        return None
    if isinstance(x, types.GeneratorType):
        return "generator"
    if hasattr(x, "element_spec") and hasattr(x, "take"):
        return "dataset"
    import keras

    if isinstance(x, keras.utils.PyDataset):
        return "py_dataset"
    return None


def _described(kind: str, batches: int, batch_size: int, script_batches: int | None = None) -> dict:
    return {
        "kind": KINDS[kind], "batches": batches, "batch_size": batch_size, "rows": batches * batch_size,
        "script_batches": script_batches,
    }  # fmt: skip


def _first_element(x: Any, kind: str) -> Any:
    if kind == "dataset":
        return next(iter(x.take(1)), None)
    return x[0] if len(x) else None


def _batch_size(element: Any) -> int | None:
    """Rows in a batch (x, y[, w]) or x: the first dimension of its first input array."""
    import keras

    if element is None:
        return None
    inputs = element[0] if isinstance(element, (tuple, list)) else element
    leaves = keras.tree.flatten(inputs)
    shape = getattr(leaves[0], "shape", None) if leaves else None
    if not shape or shape[0] is None or int(shape[0]) < 1:
        return None
    return int(shape[0])


def _cardinality(dataset: Any) -> int | None:
    try:
        value = int(dataset.cardinality())
    except Exception:
        return None
    return value if value >= 0 else None  # -1 infinite, -2 unknown


def _replay(batches: list, cycle: bool, rest: Any = None):
    """A generator (Keras accepts generators, not other iterators) yielding `batches`, forever when `cycle`;
    `rest` continues it when the budget kept the whole input or could not size it."""

    def replay():
        while True:
            yield from batches
            if rest is not None:
                yield from rest
                return
            if not cycle:
                return

    return replay()


def _first_batches(dataset: Any, count: int):
    """A PyDataset showing the first `count` batches of `dataset`, with its workers and epoch hooks."""
    import keras

    class FirstBatches(keras.utils.PyDataset):
        def __init__(self) -> None:
            super().__init__(
                workers=getattr(dataset, "workers", 1),
                use_multiprocessing=getattr(dataset, "use_multiprocessing", False),
                max_queue_size=getattr(dataset, "max_queue_size", 10),
            )

        def __len__(self) -> int:
            return count

        def __getitem__(self, index: int):
            return dataset[index]

        def on_epoch_begin(self) -> None:
            getattr(dataset, "on_epoch_begin", lambda: None)()

        def on_epoch_end(self) -> None:
            getattr(dataset, "on_epoch_end", lambda: None)()

    return FirstBatches()
