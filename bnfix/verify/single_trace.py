"""Build what Keras would build inside the first trace of a train or test function, before it traces.

Without a distribution strategy, Keras 3's TensorFlow trainer defers building the optimizer, the compiled loss
and metrics (and a model not built yet) to the first trace of `fit`'s train function (`_maybe_symbolic_build`
returns early "for backwards compatibility"). Variables created while tracing make `tf.function` trace the
function twice: once to create them, then once more without them, and the second graph is the one that runs.
Building them first, with Keras's own `_symbolic_build` (what it does itself under a distribution strategy),
leaves one trace: about a third of a small run's CPU. The variables are the same (zeros, or values of
initialisers seeded when the layers were constructed) and so is the graph that runs: every number the fixtures
record is bit-identical with and without it (bench/README.md, tests/test_verify_single_trace.py).

Anything this cannot describe (generators, PyDatasets, unusual inputs) or a build that fails is left to Keras,
as the script would run by hand. Runs inside the verify child only; imports Keras lazily.
"""

from __future__ import annotations

from typing import Any


def build_before_first_trace(model, x, y=None, sample_weight=None, function: str = "train_function") -> bool:
    """Build `model`'s unbuilt state from the shapes of (x, y, sample_weight) if `function` is still to be traced.

    `function` is "train_function" (fit, train_on_batch) or "test_function" (evaluate, test_on_batch): once it
    exists, everything it needed was built, which keeps this free for the thousands of `train_on_batch` calls of a
    GAN loop. True when a build ran.
    """
    if getattr(model, function, True) is not None or not getattr(model, "compiled", False):
        return False
    if getattr(model, "_distribute_strategy", None) is not None or not hasattr(model, "_symbolic_build"):
        return False  # Keras builds before tracing by itself, or this Keras has no such step
    try:
        batch = _symbolic_batch(x, y, sample_weight)
        if batch is None:
            return False
        model._symbolic_build(data_batch=batch)
    except Exception:  # Keras builds the rest inside the trace, as without this
        return False
    return True


def _symbolic_batch(x, y, sample_weight) -> tuple | None:
    """(x, y, sample_weight) as Keras tensors of one batch (any size), as the data adapter would yield them."""
    import keras

    if x is None:
        return None
    if hasattr(x, "element_spec"):  # a tf.data.Dataset: its batches are described without reading any
        spec = x.element_spec
        return tuple(spec) if isinstance(spec, (tuple, list)) else (spec,)
    if not all(hasattr(leaf, "shape") for leaf in keras.tree.flatten(x)):
        return None  # a generator or PyDataset: nothing to describe without consuming it
    return tuple(None if part is None else keras.tree.map_structure(_batch_spec, _as_rows(part)) for part in (x, y, sample_weight))


def _as_rows(part: Any) -> Any:
    import numpy as np

    if isinstance(part, (list, tuple)) and part and all(isinstance(v, (int, float, bool)) for v in part):
        return np.asarray(part)  # labels as a Python list are rows, as Keras's adapter reads them
    return part


def _batch_spec(leaf):
    """A Keras tensor shaped like a batch of `leaf`, floats as floatx: what the array adapter casts them to."""
    import keras
    import numpy as np

    if leaf is None:
        return None
    shape = tuple(leaf.shape)
    if len(shape) < 1:
        raise ValueError("a scalar is not a batch")
    dtype = getattr(leaf, "dtype", None)
    if dtype is None or hasattr(leaf, "dtypes"):  # a pandas DataFrame: one dtype for the tensor Keras makes of it
        dtype = np.asarray(leaf[:1]).dtype
    dtype = keras.backend.standardize_dtype(dtype)
    if "float" in dtype:
        dtype = keras.config.floatx()
    return keras.KerasTensor((None, *shape[1:]), dtype)
