"""single_trace.py, really training: building before fit's first trace leaves one trace of the train function
instead of two, and changes no number (the same losses and weights as Keras's deferred build)."""

from __future__ import annotations

import numpy
import pytest

from bnfix.verify.single_trace import build_before_first_trace

pytestmark = pytest.mark.training

keras = pytest.importorskip("keras")


def compiled_model(subclassed: bool = False):
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    if subclassed:  # not built until it is first called

        class Model(keras.Model):
            def __init__(self):
                super().__init__()
                self.dense = keras.layers.Dense(8)
                self.norm = keras.layers.BatchNormalization()
                self.out = keras.layers.Dense(1)

            def call(self, inputs, training=None):
                return self.out(self.norm(self.dense(inputs), training=training))

        model = Model()
    else:
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8), keras.layers.BatchNormalization(), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    return model


def traces_of_train_function(model) -> dict[str, int]:
    """How often each tf.function of fit's train function traced, found through the closures Keras builds it of
    (multi_step_on_iterator calls one_step_on_data, the one that builds the optimizer when Keras defers it)."""
    found: dict[str, int] = {}

    def visit(function, seen: set) -> None:
        for cell in getattr(function, "__closure__", None) or ():
            try:
                value = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            if id(value) in seen:
                continue
            seen.add(id(value))
            if hasattr(value, "experimental_get_tracing_count"):
                found[value.__name__] = value.experimental_get_tracing_count()
                visit(value.python_function, seen)
            elif callable(value):
                visit(value, seen)

    visit(model.train_function, set())
    return found


def train(prebuild: bool, subclassed: bool = False):
    rng = numpy.random.default_rng(0)
    x = rng.normal(size=(100, 4))  # float64, as scripts pass them: the adapter casts to float32
    y = x.sum(axis=1, keepdims=True)
    model = compiled_model(subclassed)
    built = build_before_first_trace(model, x, y) if prebuild else None
    history = model.fit(x, y, batch_size=32, epochs=3, verbose=0).history
    return built, traces_of_train_function(model), history, [w.copy() for w in model.get_weights()]


@pytest.mark.parametrize("subclassed", [False, True], ids=["sequential", "subclassed"])
def test_one_trace_instead_of_two_and_the_same_numbers(subclassed):
    built, traces, history, weights = train(prebuild=True, subclassed=subclassed)
    _, deferred_traces, deferred_history, deferred_weights = train(prebuild=False, subclassed=subclassed)
    assert built is True
    assert traces == {"multi_step_on_iterator": 1, "one_step_on_data": 1}
    assert deferred_traces == {"multi_step_on_iterator": 1, "one_step_on_data": 2}
    assert history == deferred_history
    assert all(numpy.array_equal(a, b) for a, b in zip(weights, deferred_weights))


def test_nothing_is_built_once_the_function_exists_or_for_inputs_it_cannot_describe():
    model = compiled_model()
    assert build_before_first_trace(model, (row for row in range(3))) is False  # a generator: left to Keras
    x, y = numpy.zeros((8, 4)), numpy.zeros((8, 1))
    model.fit(x, y, verbose=0)
    assert build_before_first_trace(model, x, y) is False  # the train function exists: nothing left to build
    uncompiled = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    assert build_before_first_trace(uncompiled, x, y) is False
