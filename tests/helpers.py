"""Shared test helpers: settings from short option dicts, and dedented before/after comparisons."""

from __future__ import annotations

import textwrap

from bnfix.engine import check_source, fix_source
from bnfix.settings import PlacementPolicy, Settings


def settings_for(select: str | None = None, **options) -> Settings:
    values = dict(options)
    if "policy" in values:
        values["policy"] = PlacementPolicy(values["policy"])
    if "keras_version" in values and isinstance(values["keras_version"], str):
        major, minor = values["keras_version"].split(".")[:2]
        values["keras_version"] = (int(major), int(minor))
    if select is not None:
        values["select"] = (select,)
    return Settings(**values)


def assert_fix(before: str, after: str, select: str | None = None, **options) -> None:
    """libcst CodemodTest style: `before` repairs to exactly `after`, and a second run changes nothing."""
    before, after = textwrap.dedent(before), textwrap.dedent(after)
    settings = settings_for(select, **options)
    result = fix_source(before, settings)
    assert result.source == after, f"--- got ---\n{result.source}\n--- expected ---\n{after}"
    again = fix_source(result.source, settings)
    assert again.source == result.source, "a second apply changed the result"


def codes_found(source: str, select: str | None = None, **options) -> list[str]:
    result = check_source(textwrap.dedent(source), settings_for(select, **options))
    return [diagnostic.code for diagnostic in result.diagnostics]


# The seed document's Example 2, exactly as it stands (it crashes Keras 3: `moving_average_fraction`).
SEED_EXAMPLE_2 = """\
    import numpy as np
    from tensorflow import keras
    from tensorflow.keras.layers import Dense, BatchNormalization
    model = keras.Sequential([
        Dense(64, input_shape=(10,)),
        BatchNormalization(moving_average_fraction=0.9), #Explicitly setting moving average
        Dense(1)
    ])
    x_train = np.random.rand(100, 10)
    y_train = np.random.rand(100, 1)
    model.compile(optimizer='adam', loss='mse')
    model.fit(x_train, y_train, epochs=10)
    x_test = np.random.rand(10,10)
    predictions = model.predict(x_test)
    """


def messages(source: str, select: str, **options) -> list[str]:
    result = check_source(textwrap.dedent(source), settings_for(select, **options))
    return [d.message for d in result.diagnostics]
