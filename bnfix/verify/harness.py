"""Runs user scripts, unchanged, inside the worker process `bnfix verify` starts, and records what they trained.

    python -m bnfix.verify.harness --serve                  worker: run requests on stdin, records on stdout
    python -m bnfix.verify.harness SCRIPT --seeds 0,1,2     run one script once per seed (by hand, in tests)

This is the only module of bnfix that imports Keras. The process imports Keras once; every run is a child
forked from it (so each run starts from the same freshly imported state, and a run that hangs or dies takes
nothing else with it). In the child the Keras session is cleared, `keras.utils.set_random_seed(seed)` is
called, the working directory becomes the script's, and the script runs with `runpy` as `__main__`.
`keras.Model.fit`, `evaluate` and `predict` are wrapped to record each fit's history, each evaluation, and,
after every fit of a model that contains BatchNormalization, a probe of that model on a sample of its
training inputs:

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


class Recorder:
    """What one run trained and evaluated; `install` wraps keras.Model once, `reset` starts a new run."""

    def __init__(self, sample_size: int) -> None:
        self.sample_size = sample_size
        self.reset()

    def reset(self) -> None:
        self.fits: list[dict] = []
        self.evaluations: list[dict] = []
        self.predictions: list[dict] = []
        self.record_errors: list[dict] = []  # the harness's own problems recording a call; the run goes on
        self._labels: dict[int, str] = {}
        self._models: list[Any] = []  # strong references, so that ids stay unique within a run
        self._depth = 0  # fit calls evaluate for validation data: only the outermost call is recorded

    def label(self, model) -> str:
        if id(model) not in self._labels:
            self._models.append(model)
            self._labels[id(model)] = f"{getattr(model, 'name', type(model).__name__)}#{len(self._labels) + 1}"
        return self._labels[id(model)]

    def install(self) -> None:
        model_class = keras.Model
        model_class.fit = self._wrap(model_class.fit, self._record_fit)
        model_class.evaluate = self._wrap(model_class.evaluate, self._record_evaluation)
        model_class.predict = self._wrap(model_class.predict, self._record_prediction)

    def _wrap(self, original, record):
        recorder = self

        @functools.wraps(original)
        def wrapper(model, *args, **kwargs):
            if recorder._depth:
                return original(model, *args, **kwargs)
            recorder._depth += 1
            try:
                result = original(model, *args, **kwargs)
            finally:
                recorder._depth -= 1
            recorder._depth += 1  # our own model calls inside the probe must not be recorded either
            try:
                record(model, args, kwargs, result)
            except Exception as error:  # a recording problem must never look like a crash of the script
                recorder.record_errors.append({"model": recorder.label(model), "call": original.__name__, **_describe(error)})
            finally:
                recorder._depth -= 1
            return result

        return wrapper

    def _record_fit(self, model, args, kwargs, history) -> None:
        logs = getattr(history, "history", None) or {}
        series = {key: [_number(v) for v in values] for key, values in logs.items()}
        entry: dict[str, Any] = {
            "model": self.label(model),
            "epochs": len(getattr(history, "epoch", []) or []),
            "final": {key: values[-1] for key, values in series.items() if values},
            "history": series,
            "probe": None,
        }
        x = args[0] if args else kwargs.get("x")
        entry["probe"] = probe_model(model, x, self.sample_size)
        self.fits.append(entry)

    def _record_evaluation(self, model, args, kwargs, result) -> None:
        results: dict[str, float] = {}
        try:
            logs = model.get_metrics_result()
            results = {key: _number(value) for key, value in logs.items() if _is_scalar(value)}
        except Exception:
            pass
        if not results:  # fall back to the returned value: a scalar loss, a list or a dict
            if isinstance(result, dict):
                results = {key: _number(value) for key, value in result.items() if _is_scalar(value)}
            elif isinstance(result, (list, tuple)):
                results = {("loss" if i == 0 else f"metric_{i}"): _number(v) for i, v in enumerate(result)}
            elif _is_scalar(result):
                results = {"loss": _number(result)}
        self.evaluations.append({"model": self.label(model), "results": results})

    def _record_prediction(self, model, args, kwargs, result) -> None:
        leaves = keras.tree.flatten(result) if result is not None else []
        rows = int(leaves[0].shape[0]) if leaves and getattr(leaves[0], "shape", None) else None
        self.predictions.append({"model": self.label(model), "rows": rows})


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


def run_once(script: Path, seed: int, recorder: Recorder, timeout: float) -> dict:
    """Run the script as `__main__` with this seed, in this process, and return its record."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    recorder.reset()
    os.chdir(script.parent)
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
    return {
        "seed": seed,
        "status": status,
        "error": error,
        "duration": round(time.perf_counter() - start, 3),
        "fits": recorder.fits,
        "evaluations": recorder.evaluations,
        "predictions": recorder.predictions,
        "record_errors": recorder.record_errors,
    }


def run_isolated(
    script: Path, seed: int, recorder: Recorder, timeout: float, log: Path | None, grace: float = 5.0
) -> dict:
    """Run the script once in a forked child, so that every run starts from the same freshly imported state.

    The fork happens after Keras is imported but before it has run anything, which pays the import once per
    process instead of once per run. The child writes the script's output to `log` and sends its record back
    through a pipe. It stays in the worker's process group, so that the parent's kill of a worker ends its run
    too. A child that outlives the time limit by `grace` seconds (it blocked or swallowed the alarm) is killed,
    and one that dies without a record is a crash.
    """
    if not hasattr(os, "fork"):  # pragma: no cover - Windows: no isolation between runs, but still a result
        return run_once(script, seed, recorder, timeout)
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
            record = run_once(script, seed, recorder, timeout)
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


def serve(recorder: Recorder, requests, replies) -> int:
    """Worker mode: one JSON request per line ({"script", "seed", "timeout", "log", "grace"}), one record per line back."""
    replies.write(json.dumps({"ready": True, "keras": keras.__version__}) + "\n")
    replies.flush()
    for line in requests:
        if not line.strip():
            continue
        request = json.loads(line)
        log = Path(request["log"]) if request.get("log") else None
        record = run_isolated(
            Path(request["script"]), int(request["seed"]), recorder, float(request["timeout"]), log, float(request.get("grace", 5.0))
        )
        replies.write(json.dumps(record) + "\n")
        replies.flush()
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bnfix.verify.harness", description=__doc__.split("\n\n")[0])
    parser.add_argument("script", type=Path, nargs="?", help="run this script once per seed (omit with --serve)")
    parser.add_argument("--serve", action="store_true", help="worker mode: read run requests on stdin")
    parser.add_argument("--results", type=Path, help="JSON-lines file the runs are appended to (default: stdout)")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds, one run each")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per run")
    parser.add_argument("--sample-size", type=int, default=256, help="training rows the probe uses")
    parser.add_argument("--log", type=Path, help="file the script's output goes to (default: inherited)")
    args = parser.parse_args(argv)
    if args.serve == (args.script is not None):
        parser.error("give either a script or --serve")
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
    if args.serve:
        return serve(recorder, sys.stdin, channel)
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
