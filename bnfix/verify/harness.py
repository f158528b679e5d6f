"""Runs user scripts, unchanged, inside the worker process `bnfix verify` starts, and records what they trained.

    python -m bnfix.verify.harness --serve                  worker: run requests on stdin, records on stdout
    python -m bnfix.verify.harness SCRIPT --seeds 0,1,2     run one script once per seed (by hand, in tests)

This is the only module of bnfix that imports Keras. The process imports Keras once (with `--server`, it then
forks the session's other workers from itself); every run is a child forked from it (so each run starts from the
same freshly imported state, and a run that hangs or dies takes nothing else with it). In the child the Keras session is cleared, `keras.utils.set_random_seed(seed)` is
called, the working directory becomes the script's, and the script runs with `runpy` as `__main__`.
`keras.Model.fit`, `evaluate`, `predict` and the `*_on_batch` methods are wrapped: they apply the run's budget
(budget.py: capped epochs and steps, the same fixed rows of every array), build what Keras would build inside the
first trace beforehand (single_trace.py: one trace instead of two, same numbers), record each fit's history epoch by
epoch (a run that times out keeps what it finished), each evaluation and prediction, statistics of every call's
inputs and their shift from the training inputs (input_stats.py), and, after every fit of a model that contains
BatchNormalization (and after the run, for models trained with `train_on_batch`), a probe of that model on a
sample of its training inputs (the record's shape: records.py):

- the inference gap: how far the inference-mode outputs are from the training-mode outputs, relative to the
  output scale (`rms(inference - training) / rms(training)`);
- per BN layer, how far the moving mean and variance are from the statistics of the layer's input on the sample.

The probe neutralises dropout and noise layers while it runs (so that the gap measures BatchNormalization
alone) and restores every variable afterwards (a training-mode call updates the moving statistics).

A run that raises, exits non-zero, dies or runs out of time is recorded as such (exception type, message,
traceback tail), never as a harness failure.
"""

from __future__ import annotations

import argparse
import functools
import inspect
import json
import math
import os
import runpy
import select
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from bnfix.verify.budget import ENVIRONMENT_FLAG, Budget, capped_epochs, fixed_rows
from bnfix.verify.input_cap import cap_input
from bnfix.verify.input_stats import input_shift, leaves_summary
from bnfix.verify.single_trace import build_before_first_trace
from bnfix.verify.write_guard import WriteGuard

# Keras imports are deferred to `main` so that `--help` and the module's import stay cheap.
keras: Any = None
np: Any = None

CHANNELS_RECORDED = 16  # per BN layer, channels whose moving and sample statistics go into the record
STOCHASTIC_ATTRIBUTES = {"Dropout": "rate", "GaussianDropout": "rate", "AlphaDropout": "rate", "GaussianNoise": "stddev"}


class RunTimeout(BaseException):
    """Raised by SIGALRM when a run exceeds its time limit; BaseException so `except Exception` in a script misses it."""


def _raise_timeout(signum, frame):  # pragma: no cover - signal handler
    raise RunTimeout()


# ----------------------------------------------------------------------------------------------- recording

ACCURACY_KEYS = ("accuracy", "acc", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy")
BATCH_METHODS = {"train_on_batch": "train", "test_on_batch": "test", "predict_on_batch": "predict"}
TRACED_FUNCTION = {"train_on_batch": "train_function", "evaluate": "test_function", "test_on_batch": "test_function"}
MAX_BATCH_LOSSES = 1000  # per model and method; longer series are thinned evenly


class Recorder:
    """What one run trained and evaluated; `install` wraps keras.Model once, `reset` starts a new run.

    The record's shape is documented in bnfix/verify/records.py.
    """

    def __init__(self, sample_size: int, budget: Budget | None = None) -> None:
        self.sample_size = sample_size
        self.budget = budget or Budget()
        self.reset()

    def reset(self) -> None:
        self.fits: list[dict] = []
        self.evaluations: list[dict] = []
        self.predictions: list[dict] = []
        self.batch_calls: list[dict] = []
        self.record_errors: list[dict] = []  # the harness's own problems recording a call; the run goes on
        self._labels: dict[int, str] = {}
        self._models: list[Any] = []  # strong references, so that ids stay unique within a run
        self._batch_entries: dict[tuple[str, str], dict] = {}
        self._last_batch_inputs: dict[str, Any] = {}  # model label -> the x of its last train_on_batch
        self._training_inputs: dict[str, list] = {}  # model label -> input summaries of its last training call
        self._last_training_inputs: list | None = None
        self._depth = 0  # fit calls evaluate for validation data: only the outermost call is recorded
        self._script_rows: int | None = None  # rows of the current call's x before the budget's subset
        self._script_batches: int | None = None  # batches of the current call's dataset before --max-samples
        self._script_steps: int | None = None  # the steps_per_epoch the script passed
        self._capped: dict[str, dict] = {}  # argument -> what --max-samples kept of a dataset or generator

    def label(self, model) -> str:
        if id(model) not in self._labels:
            self._models.append(model)
            self._labels[id(model)] = f"{getattr(model, 'name', type(model).__name__)}#{len(self._labels) + 1}"
        return self._labels[id(model)]

    def install(self) -> None:
        model_class = keras.Model
        model_class.fit = self._wrap_fit(model_class.fit)
        model_class.evaluate = self._wrap(model_class.evaluate, self._record_evaluation)
        model_class.predict = self._wrap(model_class.predict, self._record_prediction)
        for method in BATCH_METHODS:
            setattr(model_class, method, self._wrap(getattr(model_class, method), self._record_batch_call))

    # -- wrapping

    def _bind(self, original, model, args, kwargs):
        """The call's arguments by name (so a positional `epochs` is found), with the budget's row subset applied."""
        signature = inspect.signature(original)
        arguments = dict(signature.bind(model, *args, **kwargs).arguments)
        for name, parameter in signature.parameters.items():
            if parameter.kind is inspect.Parameter.VAR_KEYWORD:
                arguments.update(arguments.pop(name, {}))
            elif parameter.kind is inspect.Parameter.VAR_POSITIONAL and arguments.pop(name, ()):
                raise TypeError(f"{original.__name__} called with extra positional arguments")
        arguments.pop(next(iter(signature.parameters)), None)  # self
        self._script_rows = _rows(arguments.get("x"))
        self._script_batches = _cardinality(arguments.get("x"))  # datasets and PyDatasets, before any cap
        self._script_steps = arguments.get("steps_per_epoch")
        self._capped = {}
        if self.budget.max_samples is not None:
            for name in ("x", "y", "sample_weight"):
                if arguments.get(name) is not None:
                    arguments[name] = subset_structure(arguments[name], self.budget.max_samples)
            validation = arguments.get("validation_data")
            if isinstance(validation, (tuple, list)):
                arguments["validation_data"] = tuple(
                    subset_structure(part, self.budget.max_samples) if part is not None else None for part in validation
                )
            steps = next((name for name in ("steps_per_epoch", "steps") if name in signature.parameters), None)
            self._cap_input(arguments, "x", steps)
            if validation is not None and not isinstance(validation, (tuple, list)):
                self._cap_input(arguments, "validation_data", "validation_steps")
        return arguments

    def _cap_input(self, arguments: dict, name: str, steps: str | None) -> None:
        """A dataset, generator or PyDataset under --max-samples: its first batches (input_cap.py)."""
        if arguments.get(name) is None:
            return
        value, capped_steps, capped = cap_input(arguments[name], self.budget.max_samples, arguments.get(steps) if steps else None)
        arguments[name] = value
        if capped is not None:
            self._capped[name] = capped
            if steps is not None and capped_steps is not None:
                arguments[steps] = capped_steps

    def _wrap(self, original, record):
        recorder = self

        @functools.wraps(original)
        def wrapper(model, *args, **kwargs):
            if recorder._depth:
                return original(model, *args, **kwargs)
            try:
                arguments = recorder._bind(original, model, args, kwargs)
            except Exception as error:  # never stop a call the harness does not understand: run it as written
                recorder.record_errors.append({"model": recorder.label(model), "call": original.__name__, **_describe(error)})
                arguments = None
            if arguments is not None and original.__name__ in TRACED_FUNCTION:
                build_before_first_trace(
                    model, arguments.get("x"), arguments.get("y"), arguments.get("sample_weight"),
                    TRACED_FUNCTION[original.__name__],
                )  # fmt: skip
            recorder._depth += 1
            try:
                result = original(model, **arguments) if arguments is not None else original(model, *args, **kwargs)
            finally:
                recorder._depth -= 1
            recorder._depth += 1  # our own model calls inside the probe must not be recorded either
            try:
                record(model, original.__name__, arguments or {"x": args[0] if args else kwargs.get("x")}, result)
            except Exception as error:  # a recording problem must never look like a crash of the script
                recorder.record_errors.append({"model": recorder.label(model), "call": original.__name__, **_describe(error)})
            finally:
                recorder._depth -= 1
            return result

        return wrapper

    def _wrap_fit(self, original):
        """fit: the budget, and a callback that records every epoch as it ends (a run that times out keeps them)."""
        recorder = self

        @functools.wraps(original)
        def fit(model, *args, **kwargs):
            if recorder._depth:
                return original(model, *args, **kwargs)
            try:
                arguments = recorder._bind(original, model, args, kwargs)
                entry = recorder._begin_fit(model, arguments)
            except Exception as error:
                recorder.record_errors.append({"model": recorder.label(model), "call": "fit", **_describe(error)})
                arguments = entry = None
            if arguments is not None:
                build_before_first_trace(model, arguments.get("x"), arguments.get("y"), arguments.get("sample_weight"))
            recorder._depth += 1
            try:
                history = original(model, **arguments) if arguments is not None else original(model, *args, **kwargs)
            finally:
                recorder._depth -= 1
            if entry is not None:
                recorder._depth += 1
                try:
                    recorder._finish_fit(model, entry, arguments, history)
                except Exception as error:
                    recorder.record_errors.append({"model": recorder.label(model), "call": "fit", **_describe(error)})
                finally:
                    recorder._depth -= 1
            return history

        return fit

    # -- fit

    def _begin_fit(self, model, arguments: dict) -> dict:
        entry: dict[str, Any] = {
            "model": self.label(model), "epochs": 0, "completed": False, "final": {}, "history": {}, "probe": None,
            "first_batch_loss": None, "updates": 0,
        }  # fmt: skip
        x, y = arguments.get("x"), arguments.get("y")
        entry["budget"] = self._apply_fit_budget(arguments, x)
        entry["inputs"] = self._summarize(x)
        entry["label_majority"] = majority_class_fraction(y if y is not None else _dataset_targets(x))
        validation = arguments.get("validation_data")
        if validation is not None:
            val_x = validation[0] if isinstance(validation, (tuple, list)) else validation
            entry["validation_inputs"] = self._summarize(val_x)
            entry["validation_input_shift"] = input_shift(entry["inputs"], entry["validation_inputs"])
        if entry["inputs"]:
            self._training_inputs[entry["model"]] = entry["inputs"]
            self._last_training_inputs = entry["inputs"]
        callbacks = arguments.get("callbacks")
        callbacks = list(callbacks) if isinstance(callbacks, (list, tuple)) else ([callbacks] if callbacks else [])
        arguments["callbacks"] = callbacks + [_epoch_recorder(entry)]
        self.fits.append(entry)
        return entry

    def _apply_fit_budget(self, arguments: dict, x) -> dict:
        """Cap epochs and steps_per_epoch; what the script asked for and what runs, for the report."""
        budget = self.budget
        requested_epochs = int(arguments.get("epochs", 1) or 1)
        initial = int(arguments.get("initial_epoch", 0) or 0)
        epochs = capped_epochs(requested_epochs, initial, budget.epochs)
        arguments["epochs"] = epochs
        requested_steps = self._script_steps
        rows = _rows(x)
        batch_size = arguments.get("batch_size") or (None if _is_dataset_or_generator(x) else 32)
        split = float(arguments.get("validation_split", 0.0) or 0.0)
        natural_steps = math.ceil(rows * (1 - split) / batch_size) if rows and batch_size else _cardinality(x)
        steps = arguments.get("steps_per_epoch")  # the script's, or --max-samples's cap of a dataset's
        if budget.steps is not None:
            if steps is not None:
                steps = min(int(steps), budget.steps)
            elif natural_steps is not None and natural_steps > budget.steps:
                steps = budget.steps
            arguments["steps_per_epoch"] = steps
            if steps is None:
                arguments.pop("steps_per_epoch")
        original_rows = self._script_rows or rows
        script_steps = requested_steps or (
            math.ceil(original_rows * (1 - split) / batch_size) if original_rows and batch_size else self._script_batches
        )
        return {
            "requested_epochs": requested_epochs - initial,
            "epochs": epochs - initial,
            "requested_steps_per_epoch": requested_steps,
            "steps_per_epoch": steps,
            "rows": rows,
            "script_rows": original_rows,
            "batch_size": batch_size,
            "script_updates": (requested_epochs - initial) * script_steps if script_steps else None,
            **{f"capped_{name}": capped for name, capped in self._capped.items()},
        }

    def _finish_fit(self, model, entry: dict, arguments: dict, history) -> None:
        logs = getattr(history, "history", None) or {}
        series = {key: [_number(v) for v in values] for key, values in logs.items()}
        entry["epochs"] = len(getattr(history, "epoch", []) or [])
        entry["history"] = series
        entry["final"] = {key: values[-1] for key, values in series.items() if values}
        entry["completed"] = True
        entry["probe"] = probe_model(model, arguments.get("x"), self.sample_size)

    # -- evaluate, predict, *_on_batch

    def _summarize(self, x) -> list | None:
        try:
            leaves = _input_leaves(x)
        except Exception:
            return None
        if leaves is None:
            return None
        return leaves_summary(leaves, lambda length: fixed_rows(length, self.sample_size))

    def _shift_against_training(self, label: str, inputs) -> float | None:
        reference = self._training_inputs.get(label) or self._last_training_inputs
        return input_shift(reference, inputs)

    def _record_evaluation(self, model, method, arguments, result) -> None:
        results: dict[str, float] = {}
        try:
            logs = model.get_metrics_result()
            results = {key: _number(value) for key, value in logs.items() if _is_scalar(value)}
        except Exception:
            pass
        if not results:  # fall back to the returned value: a scalar loss, a list or a dict
            results = _results_of(result)
        label = self.label(model)
        inputs = self._summarize(arguments.get("x"))
        self.evaluations.append(
            {"model": label, "results": results, "inputs": inputs, "input_shift": self._shift_against_training(label, inputs),
             **({"capped_x": self._capped["x"]} if "x" in self._capped else {})}
        )  # fmt: skip

    def _record_prediction(self, model, method, arguments, result) -> None:
        leaves = keras.tree.flatten(result) if result is not None else []
        rows = int(leaves[0].shape[0]) if leaves and getattr(leaves[0], "shape", None) else None
        label = self.label(model)
        inputs = self._summarize(arguments.get("x"))
        self.predictions.append(
            {"model": label, "rows": rows, "inputs": inputs, "input_shift": self._shift_against_training(label, inputs),
             **({"capped_x": self._capped["x"]} if "x" in self._capped else {})}
        )  # fmt: skip

    def _record_batch_call(self, model, method, arguments, result) -> None:
        """One entry per model and method, updated on every call: GAN loops call these thousands of times."""
        label, kind = self.label(model), BATCH_METHODS[method]
        entry = self._batch_entries.get((label, method))
        if entry is None:
            inputs = self._summarize(arguments.get("x"))
            entry = {"model": label, "method": method, "calls": 0, "losses": [], "loss_stride": 1, "inputs": inputs}
            if kind == "train":
                self._training_inputs[label] = inputs
                self._last_training_inputs = inputs
                entry["probe"] = None
            else:
                entry["input_shift"] = self._shift_against_training(label, inputs)
            self._batch_entries[(label, method)] = entry
            self.batch_calls.append(entry)
        entry["calls"] += 1
        if kind == "train":
            self._last_batch_inputs[label] = (model, arguments.get("x"))
            entry["last_call"] = entry["calls"]
        if kind != "predict":
            loss = _results_of(result).get("loss")
            if loss is not None:
                entry.setdefault("first_loss", loss)
                entry["final_loss"] = loss
                if (entry["calls"] - 1) % entry["loss_stride"] == 0:
                    entry["losses"].append(loss)
                if len(entry["losses"]) >= MAX_BATCH_LOSSES:  # thin evenly: keep every other value, double the stride
                    entry["losses"] = entry["losses"][::2]
                    entry["loss_stride"] *= 2

    def probe_batch_training(self) -> None:
        """After the run: probe every model trained with train_on_batch on the inputs of its last call."""
        self._depth += 1
        try:
            for entry in self.batch_calls:
                if entry["method"] != "train_on_batch" or entry["model"] not in self._last_batch_inputs:
                    continue
                model, x = self._last_batch_inputs[entry["model"]]
                try:
                    entry["probe"] = probe_model(model, x, self.sample_size)
                except Exception as error:
                    self.record_errors.append({"model": entry["model"], "call": "probe", **_describe(error)})
        finally:
            self._depth -= 1


def _epoch_recorder(entry: dict):
    """A Keras callback writing each finished epoch into `entry`, so that a run cut short keeps what it did."""

    class EpochRecorder(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if entry["first_batch_loss"] is None and logs and "loss" in logs:
                entry["first_batch_loss"] = _number(logs["loss"])
            self._batches = int(batch) + 1

        def on_epoch_begin(self, epoch, logs=None):
            self._batches = 0

        def on_epoch_end(self, epoch, logs=None):
            for key, value in (logs or {}).items():
                if _is_scalar(value):
                    entry["history"].setdefault(key, []).append(_number(value))
            entry["epochs"] += 1
            entry["updates"] += getattr(self, "_batches", 0)
            entry["final"] = {key: values[-1] for key, values in entry["history"].items() if values}

    return EpochRecorder()


def _results_of(result) -> dict[str, float]:
    if isinstance(result, dict):
        return {key: _number(value) for key, value in result.items() if _is_scalar(value)}
    if isinstance(result, (list, tuple)):
        return {("loss" if i == 0 else f"metric_{i}"): _number(v) for i, v in enumerate(result) if _is_scalar(v)}
    if _is_scalar(result):
        return {"loss": _number(result)}
    return {}


def _is_dataset_or_generator(x) -> bool:
    return x is not None and not all(hasattr(leaf, "shape") and hasattr(leaf, "__getitem__") for leaf in keras.tree.flatten(x))


def _rows(x) -> int | None:
    if x is None or _is_dataset_or_generator(x):
        return None
    leaves = keras.tree.flatten(x)
    return int(leaves[0].shape[0]) if leaves and getattr(leaves[0], "shape", None) else None


def _cardinality(x) -> int | None:
    """Batches per epoch of a tf.data.Dataset or a PyDataset/Sequence, when they say."""
    try:
        if hasattr(x, "cardinality"):
            value = int(x.cardinality())
            return value if value > 0 else None
        if hasattr(x, "__len__") and not hasattr(x, "shape"):
            return int(len(x))
    except Exception:
        return None
    return None


def _input_leaves(x) -> list | None:
    """The arrays of a call's `x` (one batch of a tf.data.Dataset); None for generators and other iterators."""
    if x is None:
        return None
    if hasattr(x, "element_spec") and hasattr(x, "take"):
        element = next(iter(x.take(1)))
        x = element[0] if isinstance(element, (tuple, list)) else element
    elif _is_dataset_or_generator(x):
        return None
    return [np.asarray(leaf.to_numpy() if hasattr(leaf, "to_numpy") else leaf) for leaf in keras.tree.flatten(x)]


def _dataset_targets(x):
    if x is not None and hasattr(x, "element_spec") and hasattr(x, "take"):
        try:
            element = next(iter(x.take(1)))
        except Exception:
            return None
        return element[1] if isinstance(element, (tuple, list)) and len(element) > 1 else None
    return None


def majority_class_fraction(y) -> float | None:
    """The share of the most frequent class when `y` looks like class labels (integers or one-hot); else None.

    An accuracy no better than this is what always answering the majority class gets: chance for the report.
    """
    try:
        leaves = keras.tree.flatten(y) if y is not None else []
        if len(leaves) != 1:
            return None
        labels = np.asarray(leaves[0].to_numpy() if hasattr(leaves[0], "to_numpy") else leaves[0])
    except Exception:
        return None
    if labels.ndim == 0 or labels.size == 0 or not np.issubdtype(labels.dtype, np.number):
        return None
    if labels.ndim == 2 and labels.shape[1] > 1:  # one-hot
        if not np.all((labels == 0) | (labels == 1)):
            return None
        labels = labels.argmax(axis=1)
    labels = labels.reshape(labels.shape[0], -1)
    if labels.shape[1] != 1 or not np.all(np.mod(labels, 1) == 0):
        return None
    _, counts = np.unique(labels, return_counts=True)
    if len(counts) > max(100, labels.shape[0] // 2):  # integer-valued regression targets, not classes
        return None
    return float(counts.max() / counts.sum())


def subset_structure(x, keep: int):
    """Every array of `x` with more than `keep` rows replaced by its `fixed_rows`; datasets and generators untouched."""
    if isinstance(x, (list, tuple)) and x and all(isinstance(leaf, (int, float, bool)) for leaf in keras.tree.flatten(x)):
        x = np.asarray(x)  # labels as a Python list: rows, not a structure of scalars
    elif _is_dataset_or_generator(x):
        return x

    def subset(leaf):
        if not getattr(leaf, "shape", None) or int(leaf.shape[0]) <= keep:
            return leaf
        rows = fixed_rows(int(leaf.shape[0]), keep)
        if hasattr(leaf, "iloc"):  # a DataFrame or Series: rows, not columns
            return leaf.iloc[rows]
        if isinstance(leaf, np.ndarray):
            return leaf[rows]
        return np.asarray(leaf)[rows]  # tensors

    return keras.tree.map_structure(subset, x)


def _is_scalar(value) -> bool:
    try:
        return np.size(value) == 1
    except Exception:
        return False


def _number(value) -> float:
    return float(np.asarray(value).reshape(-1)[0])


# ----------------------------------------------------------------------------------------------- the probe


def bn_layers(model) -> list:
    return [
        layer
        for layer in model._flatten_layers(include_self=False, recursive=True)
        if isinstance(layer, keras.layers.BatchNormalization)
    ]


def training_sample(x, size: int):
    """The first `size` rows of fit's `x` (arrays, tensors, DataFrames, dicts/lists of them, tf.data); else None."""
    if x is None:
        return None
    if hasattr(x, "element_spec") and hasattr(x, "take"):  # tf.data.Dataset: one batch of (x, y[, w]) or x
        element = next(iter(x.take(1)))
        x = element[0] if isinstance(element, (tuple, list)) else element
    elif not all(hasattr(leaf, "shape") and hasattr(leaf, "__getitem__") for leaf in keras.tree.flatten(x)):
        return None  # a generator or PyDataset: nothing to slice without consuming it

    floatx = keras.config.floatx()

    def head(leaf):
        array = np.asarray(leaf[:size])
        return array.astype(floatx) if np.issubdtype(array.dtype, np.floating) else array

    return keras.tree.map_structure(head, x)


def probe_model(model, x, sample_size: int) -> dict | None:
    """Inference gap and moving-statistics error of a trained model on a sample of its training inputs.

    The BN inputs are captured in the training-mode pass, where every BN upstream normalises with batch
    statistics as it did while the moving statistics were accumulating: each layer's moving statistics are
    compared with what they were estimating, not with inputs already shifted by an upstream layer's error.
    `moving_stat_error` is the worst layer's `normalisation_error`.
    """
    layers = bn_layers(model)
    if not layers:
        return None
    result: dict[str, Any] = {"bn_layers": len(layers)}
    try:
        sample = training_sample(x, sample_size)
    except Exception as error:
        sample, result["skipped"] = None, f"cannot take a sample of the training inputs: {_describe(error)['message']}"
    if sample is None:
        result.setdefault("skipped", "the training inputs are a generator; no sample to probe")
        return result
    result["sample_rows"] = int(keras.tree.flatten(sample)[0].shape[0])
    moving = {id(layer): (_array(layer.moving_mean), _array(layer.moving_variance)) for layer in layers}
    saved = [(variable, variable.numpy()) for variable in model.variables]
    silenced = _silence_stochastic_layers(model)
    captured: dict[int, Any] = {}
    try:
        inference = _outputs(model(sample, training=False))
        _capture_inputs(layers, captured)
        training = _outputs(model(sample, training=True))
    except Exception as error:
        result["skipped"] = f"the model cannot be called on its training inputs: {_describe(error)['message']}"
        return result
    finally:
        _release_inputs(layers)
        for layer, attribute, value in silenced:
            setattr(layer, attribute, value)
        for variable, value in saved:
            variable.assign(value)

    result.update(inference_gap(training, inference))
    per_layer = [moving_statistics_error(layer, captured.get(id(layer)), *moving[id(layer)]) for layer in layers]
    result["layers"] = per_layer
    measured = [entry for entry in per_layer if "normalisation_error" in entry]
    if measured:
        result["moving_stat_error"] = max(entry["normalisation_error"] for entry in measured)
        result["moving_mean_error"] = max(entry["mean_error"] for entry in measured)
        result["moving_variance_error"] = max(entry["variance_error"] for entry in measured)
    return result


def _array(variable):
    return np.asarray(variable.numpy(), dtype=np.float64)


def _outputs(outputs):
    return np.concatenate([np.asarray(leaf, dtype=np.float64).reshape(-1) for leaf in keras.tree.flatten(outputs)])


def _silence_stochastic_layers(model) -> list:
    silenced = []
    for layer in model._flatten_layers(include_self=False, recursive=True):
        for class_name, attribute in STOCHASTIC_ATTRIBUTES.items():
            layer_class = getattr(keras.layers, class_name, None)
            if layer_class is not None and isinstance(layer, layer_class) and hasattr(layer, attribute):
                silenced.append((layer, attribute, getattr(layer, attribute)))
                setattr(layer, attribute, 0.0)
                break
    return silenced


def _capture_inputs(layers, captured: dict) -> None:
    """Record each BN layer's input on the next eager call (an instance attribute shadows the class's `call`)."""
    for layer in layers:
        original = type(layer).call.__get__(layer)

        def call(inputs, *args, _original=original, _key=id(layer), **kwargs):
            captured[_key] = np.asarray(inputs, dtype=np.float64)
            return _original(inputs, *args, **kwargs)

        object.__setattr__(layer, "call", call)


def _release_inputs(layers) -> None:
    for layer in layers:
        if "call" in layer.__dict__:
            object.__delattr__(layer, "call")


def inference_gap(training, inference) -> dict:
    """rms(inference - training) / rms(training): 0 when BN behaves the same in both modes.

    The training-mode output is the reference: it is the function the optimiser shaped, while the inference-mode
    output is the one a wrong moving statistic distorts (and can shrink towards a constant).
    """
    difference = float(np.sqrt(np.mean((training - inference) ** 2)))
    scale = float(np.sqrt(np.mean(training**2)))
    return {
        "inference_gap": difference / scale if scale > 0 else (0.0 if difference == 0 else math.inf),
        "gap_rms": difference,
        "output_rms": scale,
    }


def moving_statistics_error(layer, inputs, moving_mean, moving_variance) -> dict:
    """How far a BN layer's moving statistics are from the statistics of its input on the sample.

    `mean_error` and `variance_error` are relative (|moving - sample| / |sample|, vector norms over channels).
    `normalisation_error` is what the error does to the layer's output: with sample mean m, std s = sqrt(v + eps)
    and moving std s' = sqrt(v' + eps), an input x = m + s*z is normalised to (s/s') z + (m - m')/s' instead of z;
    the RMS difference over z ~ (0, 1) is sqrt((s/s' - 1)^2 + ((m - m')/s')^2), averaged (RMS) over channels.
    """
    entry: dict[str, Any] = {"name": layer.name, "trainable": bool(layer.trainable), "momentum": float(layer.momentum)}
    if inputs is None:
        entry["skipped"] = "the layer was not called eagerly on the sample"
        return entry
    axis = layer.axis if isinstance(layer.axis, (list, tuple)) else [layer.axis]
    keep = {a % inputs.ndim for a in axis}
    reduce = tuple(a for a in range(inputs.ndim) if a not in keep)
    mean = inputs.mean(axis=reduce).reshape(-1)
    variance = inputs.var(axis=reduce).reshape(-1)
    moving_mean, moving_variance = moving_mean.reshape(-1), moving_variance.reshape(-1)
    epsilon = float(layer.epsilon)
    sample_std, moving_std = np.sqrt(variance + epsilon), np.sqrt(moving_variance + epsilon)
    per_channel = (sample_std / moving_std - 1.0) ** 2 + ((mean - moving_mean) / moving_std) ** 2
    entry.update(
        channels=int(mean.size),
        mean_error=_relative(moving_mean - mean, mean),
        variance_error=_relative(moving_variance - variance, variance),
        normalisation_error=float(np.sqrt(np.mean(per_channel))),
    )
    # The first channels' values themselves, for the report's picture of moving against sample statistics.
    shown = slice(0, CHANNELS_RECORDED)
    entry.update(
        moving_mean_values=moving_mean[shown].tolist(),
        sample_mean_values=mean[shown].tolist(),
        moving_variance_values=moving_variance[shown].tolist(),
        sample_variance_values=variance[shown].tolist(),
    )
    return entry


def _relative(difference, reference) -> float:
    norm = float(np.linalg.norm(reference))
    return float(np.linalg.norm(difference)) / norm if norm > 0 else float(np.linalg.norm(difference))


# ----------------------------------------------------------------------------------------------- running


def _describe(error: BaseException) -> dict:
    kind = type(error)
    name = kind.__qualname__ if kind.__module__ in ("builtins", "__main__") else f"{kind.__module__}.{kind.__qualname__}"
    text = "".join(traceback.format_exception(kind, error, error.__traceback__))
    return {"type": name, "message": str(error)[:2000], "traceback": text[-4000:]}


def run_once(script: Path, seed: int, recorder: Recorder, timeout: float, context: dict | None = None) -> dict:
    """Run the script as `__main__` with this seed, in this process, and return its record.

    `context` (from the runner): "cwd" the working directory (default: the script's), "budget" (budget.Budget as a
    dict), and "protect"/"stage": the user's project and its staged mirror, for the write guard.
    """
    context = context or {}
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    recorder.budget = Budget.from_dict(context.get("budget"))
    recorder.reset()
    for name in [name for name in os.environ if name.startswith(f"{ENVIRONMENT_FLAG}_")]:
        del os.environ[name]  # the worker's environment has the session's caps; this run may have none
    os.environ.update(recorder.budget.environment())
    if context.get("protect") and context.get("stage"):
        WriteGuard(context["protect"], context["stage"]).install()
    os.chdir(context.get("cwd") or script.parent)
    sys.argv = [str(script)]
    sys.path.insert(0, str(script.parent))
    status, error = "ok", None
    signal.signal(signal.SIGALRM, _raise_timeout)
    start = time.perf_counter()
    try:
        signal.setitimer(signal.ITIMER_REAL, timeout)
        runpy.run_path(str(script), run_name="__main__")
    except RunTimeout:
        status = "timeout"
        error = {"type": "Timeout", "message": f"the run took longer than {timeout:g} s", "traceback": ""}
    except SystemExit as exit_request:
        if exit_request.code not in (None, 0):
            status, error = "crash", _describe(exit_request)
    except BaseException as crash:
        status, error = "crash", _describe(crash)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    duration = round(time.perf_counter() - start, 3)
    try:
        recorder.probe_batch_training()
    except Exception as problem:
        recorder.record_errors.append({"model": None, "call": "probe", **_describe(problem)})
    return {
        "seed": seed,
        "status": status,
        "error": error,
        "duration": duration,
        "budget": recorder.budget.as_dict(),
        "fits": recorder.fits,
        "evaluations": recorder.evaluations,
        "predictions": recorder.predictions,
        "batch_calls": recorder.batch_calls,
        "record_errors": recorder.record_errors,
    }


def run_isolated(
    script: Path, seed: int, recorder: Recorder, timeout: float, log: Path | None, grace: float = 5.0, context: dict | None = None
) -> dict:
    """Run the script once in a forked child, so that every run starts from the same freshly imported state.

    The fork happens after Keras is imported but before it has run anything, which pays the import once per
    process instead of once per run. The child writes the script's output to `log` and sends its record back
    through a pipe. It stays in the worker's process group, so that the parent's kill of a worker ends its run
    too. A child that outlives the time limit by `grace` seconds (it blocked or swallowed the alarm) is killed,
    and one that dies without a record is a crash.
    """
    if not hasattr(os, "fork"):  # pragma: no cover - Windows: no isolation between runs, but still a result
        return run_once(script, seed, recorder, timeout, context)
    reader, writer = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(reader)
        try:
            if log is not None:
                output = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                os.dup2(output, 1)
                os.dup2(output, 2)
            record = run_once(script, seed, recorder, timeout, context)
            data = json.dumps(record).encode()
        except BaseException as error:  # even a record that cannot be encoded is reported
            data = json.dumps(_failure(seed, "crash", _describe(error))).encode()
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            with os.fdopen(writer, "wb") as pipe:
                pipe.write(data)
            os._exit(0)
    os.close(writer)
    data, finished = _read_until(reader, time.monotonic() + timeout + grace)
    os.close(reader)
    if not finished:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _, status = os.waitpid(pid, 0)
    if not finished:
        return _failure(seed, "timeout", {"type": "Timeout", "message": f"killed after {timeout + grace:g} s", "traceback": ""})
    try:
        return json.loads(data)
    except ValueError:
        return _failure(seed, "crash", {"type": "ProcessDied", "message": _exit_reason(status), "traceback": _tail(log)})


def _read_until(descriptor: int, deadline: float) -> tuple[bytes, bool]:
    """Everything written to the pipe until its end, or what arrived before `deadline` (then False)."""
    chunks = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return b"".join(chunks), False
        ready, _, _ = select.select([descriptor], [], [], remaining)
        if not ready:
            continue
        chunk = os.read(descriptor, 1 << 16)
        if not chunk:
            return b"".join(chunks), True
        chunks.append(chunk)


def _exit_reason(status: int) -> str:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        name = signal.Signals(number).name if number in signal.Signals._value2member_map_ else str(number)
        return f"the run was killed by signal {name}"
    return f"the run exited with code {os.WEXITSTATUS(status)} without a result"


def _tail(log: Path | None, size: int = 3000) -> str:
    try:
        return log.read_bytes()[-size:].decode("utf-8", errors="replace") if log else ""
    except OSError:
        return ""


def _failure(seed: int, status: str, error: dict) -> dict:
    return {"seed": seed, "status": status, "error": error, "duration": None, "fits": [], "evaluations": [], "predictions": []}


def serve(recorder: Recorder, requests, replies, servers: list[int] | None = None) -> int:
    """Worker mode: one JSON request per line ({"script", "seed", "timeout", "log", "grace", "context"}), one record
    per line back. The ready line names the process and the `servers` forked from it (their ids, to kill them by)."""
    ready = {"ready": True, "keras": keras.__version__, "pid": os.getpid(), "servers": servers or []}
    replies.write(json.dumps(ready) + "\n")
    replies.flush()
    for line in requests:
        if not line.strip():
            continue
        request = json.loads(line)
        log = Path(request["log"]) if request.get("log") else None
        record = run_isolated(
            Path(request["script"]), int(request["seed"]), recorder, float(request["timeout"]), log,
            float(request.get("grace", 5.0)), request.get("context"),
        )  # fmt: skip
        replies.write(json.dumps(record) + "\n")
        replies.flush()
    return 0


def _requests_off_stdin():
    """The request channel on a descriptor of its own; stdin becomes /dev/null, so that a script that reads its
    input (and every server forked from this one) cannot take a request."""
    requests = os.fdopen(os.dup(0), "r", encoding="utf-8")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    return requests


def _fork_server(recorder: Recorder, index: int, pairs: list[tuple[int, int]], channel, requests) -> int:
    """One more worker, forked once Keras is imported: `bnfix verify --jobs 2` imports TensorFlow once, not twice
    (4-6 s of CPU on the 2-core machine), and every run still forks from the same freshly imported state.

    The server reads requests on `pairs[index][0]` and replies on `pairs[index][1]`; it runs in its own session,
    so that the runner can kill it, with its run, without killing this worker. Returns its process id (in the
    parent).
    """
    pair = pairs[index]
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        for descriptor in pair:
            os.close(descriptor)
        return pid
    os.setsid()
    for later in pairs[index + 1 :]:  # the parent closed the earlier servers' descriptors before forking this one
        for descriptor in later:
            os.close(descriptor)
    channel.close()
    requests.close()
    replies = os.fdopen(pair[1], "w", encoding="utf-8")
    code = serve(recorder, os.fdopen(pair[0], "r", encoding="utf-8"), replies)
    _exit_without_teardown(code, replies)


def _exit_without_teardown(code: int, channel) -> None:
    """End a worker once its requests end: the records are sent, and tearing down an interpreter that imported
    TensorFlow costs a few tenths of a second of CPU at the end of every session for nothing."""
    for stream in (channel, sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def prepare_for_runs() -> None:
    """Settings that make every run cheaper without changing a number it computes (bench/README.md measures them).

    Tracing `fit`/`evaluate`/`predict` is Python-heavy and allocates a great deal: freezing what the import of
    Keras created keeps the collector from rescanning it in every run (and keeps those pages shared after the
    fork), and a larger first-generation threshold lets it run less often. Traceback filtering only rewrites the
    traceback of an exception, and costs a wrapper on every Keras and TensorFlow call. Grappler and XLA settings
    are left alone: they change the numbers in the last digits, and a run must compute what the script computes.
    """
    import gc

    keras.config.disable_traceback_filtering()
    try:
        import tensorflow

        tensorflow.debugging.disable_traceback_filtering()
    except ImportError:  # another Keras backend
        pass
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def _descriptor_pair(text: str) -> tuple[int, int]:
    reads, _, writes = text.partition(":")
    try:
        return int(reads), int(writes)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected IN:OUT descriptor numbers, got {text!r}") from None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bnfix.verify.harness", description=__doc__.split("\n\n")[0])
    parser.add_argument("script", type=Path, nargs="?", help="run this script once per seed (omit with --serve)")
    parser.add_argument("--serve", action="store_true", help="worker mode: read run requests on stdin")
    parser.add_argument("--results", type=Path, help="JSON-lines file the runs are appended to (default: stdout)")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds, one run each")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per run")
    parser.add_argument("--sample-size", type=int, default=256, help="training rows the probe uses")
    parser.add_argument("--log", type=Path, help="file the script's output goes to (default: inherited)")
    parser.add_argument(
        "--server", dest="servers", action="append", default=[], type=_descriptor_pair, metavar="IN:OUT",
        help="with --serve: fork one more worker after the import, reading requests on descriptor IN, replying on OUT",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.serve == (args.script is not None):
        parser.error("give either a script or --serve")
    if args.servers and not args.serve:
        parser.error("--server needs --serve")
    return args


def main(argv: list[str] | None = None) -> int:
    global keras, np
    args = parse_args(argv)
    # The protocol (or results) channel is a private copy of stdout; anything printed while importing
    # Keras, or by a script, goes to stderr or the run's log instead.
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    try:
        import keras as keras_module
        import numpy as numpy_module
    except ImportError as error:
        channel.write(json.dumps({"ready": False, "error": _describe(error)}) + "\n")
        channel.flush()
        return 2
    keras, np = keras_module, numpy_module
    recorder = Recorder(args.sample_size)
    recorder.install()
    prepare_for_runs()
    if args.serve:
        requests = _requests_off_stdin()
        servers = [_fork_server(recorder, index, args.servers, channel, requests) for index in range(len(args.servers))]
        code = serve(recorder, requests, channel, servers)
        for pid in servers:  # they end when the runner ends their requests; reaped, their CPU counts as this one's
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        _exit_without_teardown(code, channel)
    script = args.script.resolve()
    for seed in [int(part) for part in args.seeds.split(",") if part.strip()]:
        record = run_isolated(script, seed, recorder, args.timeout, args.log)
        if args.results is not None:
            with open(args.results, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")
        else:
            channel.write(json.dumps(record) + "\n")
            channel.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
