"""The run record: what one run of one version of a script, with one seed, left behind, and the numbers read off it.

The harness (child side) writes one record per run; the runner adds to it; `--json` carries every record under
scripts[].before.runs / scripts[].after.runs. Keys are only ever added, never renamed. A record is a dict:

    seed, status        "ok" | "crash" | "timeout" | "error" (the harness could not run it: staging, start-up)
    error               {type, message, traceback} or null; paths in the staged mirror are rewritten as the user's
    duration            seconds the script ran (null when the child was killed)
    budget              {epochs, steps, max_samples}: the caps applied (null: not capped)
    fits[]              one per `Model.fit`, appended when the fit starts (a timed-out run keeps its epochs):
        model               "name#n", unique within the run
        epochs, completed   epochs finished; false when the run ended inside this fit (time limit, crash)
        history             {metric: [one value per finished epoch]} (Keras's History, written live)
        final               {metric: last value}
        first_batch_loss    the loss after the first batch: where training started, for "did the model learn"
        updates             optimiser steps actually run (batches over all finished epochs)
        budget              {requested_epochs, epochs, requested_steps_per_epoch, steps_per_epoch, rows,
                             script_rows, batch_size, script_updates, capped_x, capped_validation_data}: what
                             the script asked for and what ran; script_updates = the script's own update count
                             (epochs x batches of its full data); capped_* = what --max-samples kept of a
                             dataset, generator or PyDataset: {kind, batches, batch_size, rows, script_batches}
        inputs              [per input array: {rows, shape, per: "feature"|"channel", mean[], std[]}] on a
                            fixed sample of rows (input_stats.py), or null (generators)
        validation_inputs, validation_input_shift   the same for validation_data, and its shift from `inputs`
        label_majority      share of the most frequent class when y looks like class labels (chance accuracy)
        probe               after the fit, models with BN only: {bn_layers, sample_rows, inference_gap, gap_rms,
                            output_rms, moving_stat_error, moving_mean_error, moving_variance_error,
                            layers: [{name, trainable, momentum, channels, mean_error, variance_error,
                            normalisation_error}]} or {skipped: reason}
    evaluations[]       one per `Model.evaluate`: {model, results: {metric: value}, inputs, input_shift, capped_x}
    predictions[]       one per `Model.predict`: {model, rows, inputs, input_shift, capped_x}
    batch_calls[]       one per model and `*_on_batch` method (GAN loops): {model, method, calls, inputs,
                        first_loss, final_loss, losses (thinned evenly to <= 1000, loss_stride apart),
                        probe (train_on_batch: after the run, on the inputs of its last call),
                        input_shift (test/predict_on_batch)}
    record_errors[]     the harness's own problems recording a call (the run went on)
    output_tail         the end of the script's output (runs that did not finish)
    wrote_through_links user files, linked into the mirror, that changed during the run (compiled-code writes)

`input_shift` (input_stats.py) compares a call's inputs with the training inputs of the same model (else of the
last model trained): the mean absolute standardised difference of the feature means.
"""

from __future__ import annotations

import math
from typing import Any

LEARNING_MARGIN = 0.05  # the final training loss must be this much below where training started
CHANCE_MARGIN = 0.02  # an accuracy within this of the majority-class share is at chance
NOISY_BATCH = 16  # a first batch of fewer rows gives too noisy a loss to measure learning from
ACCURACY_NAMES = ("accuracy", "acc", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy")


def _accuracy(values: dict) -> float | None:
    for name in ACCURACY_NAMES:
        if name in values:
            return values[name]
    return None


def _finished_fits(run: dict) -> list[dict]:
    return [fit for fit in run.get("fits") or [] if fit.get("final")]


def _batch_training(run: dict) -> list[dict]:
    return [entry for entry in run.get("batch_calls") or [] if entry.get("method") == "train_on_batch"]


def run_metrics(run: dict) -> dict[str, float | None]:
    """The numbers one record contributes: the last fit's losses, the last evaluation, the last probe, the input
    shift (the largest of any evaluation, prediction or validation input). Every metric is "lower is better"
    except the accuracies (see compare.HIGHER_IS_BETTER)."""
    fits = _finished_fits(run)
    last = fits[-1]["final"] if fits else {}
    batches = _batch_training(run)
    train_loss = last.get("loss")
    if train_loss is None and batches:
        train_loss = _tail_mean(batches[-1].get("losses") or [])
    evaluations = [entry for entry in run.get("evaluations") or [] if entry.get("results")]
    tested = evaluations[-1]["results"] if evaluations else {}
    probes = [entry["probe"] for entry in [*fits, *batches] if entry.get("probe") and "inference_gap" in entry["probe"]]
    probe = probes[-1] if probes else {}
    return {
        "train_loss": train_loss,
        "val_loss": last.get("val_loss"),
        "val_accuracy": _accuracy({key[4:]: value for key, value in last.items() if key.startswith("val_")}),
        "test_loss": tested.get("loss"),
        "test_accuracy": _accuracy(tested),
        "input_shift": largest_input_shift(run),
        "inference_gap": probe.get("inference_gap"),
        "moving_stat_error": probe.get("moving_stat_error"),
    }


def largest_input_shift(run: dict) -> float | None:
    shifts = [entry.get("input_shift") for entry in [*(run.get("evaluations") or []), *(run.get("predictions") or [])]]
    shifts += [entry.get("input_shift") for entry in run.get("batch_calls") or []]
    shifts += [fit.get("validation_input_shift") for fit in run.get("fits") or []]
    present = [value for value in shifts if value is not None]
    return max(present) if present else None


def _tail_mean(values: list[float], share: float = 0.05) -> float | None:
    finite = [v for v in values if v is not None]
    if not finite:
        return None
    count = max(1, int(len(finite) * share))
    return sum(finite[-count:]) / count


def _head_mean(values: list[float], share: float = 0.05) -> float | None:
    finite = [v for v in values if v is not None]
    if not finite:
        return None
    count = max(1, int(len(finite) * share))
    return sum(finite[:count]) / count


def fit_learned(fit: dict) -> tuple[bool | None, str]:
    """Did this fit learn? False when the final training loss is within LEARNING_MARGIN of where it started (the
    first batch's loss, else the first epoch's), or the accuracy is at chance; None when it cannot tell."""
    final = fit.get("final") or {}
    accuracy, chance = _accuracy(final), fit.get("label_majority")
    if accuracy is not None and chance is not None and accuracy <= chance + CHANCE_MARGIN:
        return False, f"training accuracy {accuracy:.3g}, no better than always answering the majority class ({chance:.3g})"
    losses = (fit.get("history") or {}).get("loss") or []
    start = fit.get("first_batch_loss")
    batch_size = (fit.get("budget") or {}).get("batch_size")
    # With batch_size=1 the first batch's loss is one sample's: a real script's flat loss (23,646 for five epochs)
    # read as learning against a first sample's 30,992. The first epoch's mean is the steadier start then.
    if len(losses) >= 2 and (start is None or (batch_size is not None and batch_size < NOISY_BATCH)):
        start = losses[0]
    end = final.get("loss")
    return _loss_learned(start, end, "training loss")


def _loss_learned(start, end, name: str) -> tuple[bool | None, str]:
    if start is None or end is None:
        return None, f"no {name} recorded"
    if not math.isfinite(end):
        return False, f"{name} diverged ({end})"
    if not math.isfinite(start):
        return True, f"{name} {start} → {end:.3g}"
    if end < start - LEARNING_MARGIN * abs(start):
        return True, f"{name} {start:.3g} → {end:.3g}"
    return False, f"{name} {start:.3g} → {end:.3g}, within {LEARNING_MARGIN:.0%} of where it started"


def learned(run: dict) -> tuple[bool | None, str]:
    """Did any model of the run learn? (A transfer-learning script's fine-tuning fit starts already trained.)"""
    verdicts = [fit_learned(fit) for fit in _finished_fits(run)]
    for entry in _batch_training(run):
        losses = entry.get("losses") or []
        if len(losses) >= 2:
            verdicts.append(_loss_learned(_head_mean(losses), _tail_mean(losses), f"{entry['model']} train_on_batch loss"))
    for answer in verdicts:
        if answer[0] is True:
            return answer
    for answer in verdicts:
        if answer[0] is False:
            return answer
    return None, verdicts[0][1] if verdicts else "no training recorded"


def completed_epochs(run: dict) -> int:
    return sum(int(fit.get("epochs") or 0) for fit in run.get("fits") or [])


def update_counts(run: dict) -> tuple[int | None, int | None]:
    """(updates run, the script's own update count) over every fit; None where unknown."""
    fits = run.get("fits") or []
    if not fits:
        return None, None
    ran = sum(int(fit.get("updates") or 0) for fit in fits)
    own = [((fit.get("budget") or {}).get("script_updates")) for fit in fits]
    return ran, (sum(own) if all(value is not None for value in own) else None)


def capped_inputs(run: dict) -> list[str]:
    """What --max-samples kept of the datasets, generators and PyDatasets of a run (input_cap.py), as phrases."""
    found = [(f"fit {name}", (fit.get("budget") or {}).get(f"capped_{name}")) for fit in run.get("fits") or []
             for name in ("x", "validation_data")]  # fmt: skip
    found += [("evaluate x", entry.get("capped_x")) for entry in run.get("evaluations") or []]
    found += [("predict x", entry.get("capped_x")) for entry in run.get("predictions") or []]
    phrases = []
    for call, capped in found:
        if not capped:
            continue
        of = f", of {capped['script_batches']} batches" if capped.get("script_batches") else ""
        phrase = f"{call} ({capped['kind']}): the first {capped['batches']} batches of {capped['batch_size']} ({capped['rows']} rows{of})"
        if phrase not in phrases:
            phrases.append(phrase)
    return phrases


def recorded_anything(run: dict) -> bool:
    return any(run.get(key) for key in ("fits", "evaluations", "predictions", "batch_calls"))


def failure_reason(run: dict) -> str:
    error: dict[str, Any] = run.get("error") or {}
    return f"{error.get('type')}: {error.get('message')}" if error else ""
