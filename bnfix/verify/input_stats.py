"""Summary statistics of the inputs of a fit / evaluate / predict call, and the input shift between two calls.

Raw-vs-scaled data (BNF401..BNF405) shows in the inputs themselves, before any model sees them: a model trained on
standardised features and asked to predict on raw ones gets inputs whose means are tens of training standard
deviations away. `input_shift` measures that with the mean absolute standardised difference,
mean over features of |mean_eval - mean_train| / std_train, so a script that only calls `predict` still has a number
to compare before and after its repair.

Statistics are per feature for 2-D inputs and per channel (the last axis, as BatchNormalization reduces) for
higher-rank ones, on a fixed sample of rows. `summarize_inputs` runs in the child (numpy); `input_shift` is pure
Python and runs on either side.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

MAX_FEATURES = 1024  # beyond this, only the first features are kept (the JSON stays small)
STD_FLOOR = 1e-6  # a constant training feature: any change of its mean counts against this spread


def summarize_leaf(array, sample_rows) -> dict | None:
    """{"rows", "shape", "mean", "std"} of one numeric array, on the rows `sample_rows` (indices)."""
    import numpy as np

    values = np.asarray(array)
    if values.ndim == 0 or not (np.issubdtype(values.dtype, np.number) or values.dtype == bool):
        return None
    rows = int(values.shape[0])
    sample = values[sample_rows] if sample_rows is not None and rows else values
    sample = sample.astype(np.float64).reshape(sample.shape[0], -1) if sample.ndim <= 2 else (
        sample.astype(np.float64).reshape(-1, sample.shape[-1])
    )  # fmt: skip
    if sample.shape[0] == 0:
        return None
    with np.errstate(all="ignore"):
        mean, std = sample.mean(axis=0)[:MAX_FEATURES], sample.std(axis=0)[:MAX_FEATURES]
    return {
        "rows": rows,
        "shape": [int(d) for d in values.shape[1:]],
        "per": "feature" if values.ndim <= 2 else "channel",
        "mean": [float(v) for v in mean],
        "std": [float(v) for v in std],
    }


def input_shift(reference: Iterable[dict] | None, other: Iterable[dict] | None) -> float | None:
    """Mean absolute standardised difference of `other`'s feature means from `reference`'s; None if not comparable.

    Both are lists of leaf summaries (one per input of a multi-input model); leaves are paired in order and must
    describe the same features. The result is the mean over every feature of every leaf.
    """
    if not reference or not other:
        return None
    reference, other = list(reference), list(other)
    if len(reference) != len(other):
        return None
    terms: list[float] = []
    for train, evaluated in zip(reference, other):
        if train is None or evaluated is None or len(train["mean"]) != len(evaluated["mean"]):
            return None
        for mean, std, value in zip(train["mean"], train["std"], evaluated["mean"]):
            if not all(math.isfinite(v) for v in (mean, std, value)):
                continue
            terms.append(abs(value - mean) / max(std, STD_FLOOR))
    return sum(terms) / len(terms) if terms else None


def leaves_summary(leaves: list[Any], sample_rows_for) -> list[dict | None]:
    """Summaries of several input arrays; `sample_rows_for(length)` picks each one's sample rows."""
    summaries = []
    for leaf in leaves:
        length = int(leaf.shape[0]) if getattr(leaf, "shape", None) else 0
        summaries.append(summarize_leaf(leaf, sample_rows_for(length) if length else None))
    return summaries
