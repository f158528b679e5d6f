"""`bnfix verify` without training: the comparison statistics and verdicts, the probe's formulas (numpy only),
the report and JSON, the temporary copies, and that the parent side never imports TensorFlow or Keras."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy
import pytest

from bnfix.settings import PlacementPolicy, Settings
from bnfix.verify import harness
from bnfix.verify.compare import (
    Change,
    Verdict,
    compare_metric,
    judge,
    judge_at_own_count,
    judge_update_count,
    run_metrics,
    summarize,
)
from bnfix.verify.own_count import own_count_decision
from bnfix.verify.report import Row, build_rows, format_summary, json_document, write_json
from bnfix.verify.runner import RunOptions, _child_environment, plan_script, run_plans

# ------------------------------------------------------------------------------------------- helpers


def run(
    seed=0, status="ok", train=None, val=None, test=None, gap=None, stat=None, error=None, start=10.0, shift=None,
    test_acc=None,
) -> dict:
    """A harness record with the numbers the comparison reads; its model learned (loss 10 -> 1) unless told."""
    final = {"loss": 1.0 if train is None else train, **({"val_loss": val} if val is not None else {})}
    probe = None if gap is None else {"bn_layers": 1, "inference_gap": gap, "moving_stat_error": stat}
    results = {key: value for key, value in (("loss", test), ("accuracy", test_acc)) if value is not None}
    return {
        "seed": seed,
        "status": status,
        "error": error or ({"type": "ValueError", "message": "boom"} if status != "ok" else None),
        "fits": [{"model": "m#1", "final": final, "probe": probe, "first_batch_loss": start}] if status == "ok" else [],
        "evaluations": [{"model": "m#1", "results": results, "input_shift": shift}] if results or shift is not None else [],
        "predictions": [],
    }  # fmt: skip


def runs(**metrics) -> list[dict]:
    """One record per seed from per-metric value lists: runs(test=[1, 2, 3])."""
    count = len(next(iter(metrics.values())))
    return [run(seed, **{name: values[seed] for name, values in metrics.items()}) for seed in range(count)]


# ------------------------------------------------------------------------------------------- summaries


def test_summary_mean_and_sample_spread():
    summary = summarize([1.0, 2.0, 3.0])
    assert summary.n == 3
    assert summary.mean == pytest.approx(2.0)
    assert summary.spread == pytest.approx(1.0)  # sample standard deviation


def test_summary_ignores_missing_values_and_counts_non_finite_ones():
    summary = summarize([1.0, None, math.nan, 3.0, math.inf])
    assert summary.values == (1.0, 3.0)
    assert summary.non_finite == 2
    assert summarize([None, None]) is None


def test_single_value_has_zero_spread():
    assert summarize([4.0]).spread == 0.0


# ------------------------------------------------------------------------------------------- one metric


def test_difference_larger_than_both_spreads_is_significant():
    before, after = summarize([1.0, 1.1, 0.9]), summarize([0.5, 0.6, 0.4])
    assert compare_metric(before, after).change is Change.BETTER
    assert compare_metric(after, before).change is Change.WORSE


def test_overlapping_intervals_are_no_significant_change():
    # means 1.0 and 0.85, spreads 0.1 each: the difference 0.15 is below 0.1 + 0.1
    before, after = summarize([0.9, 1.0, 1.1]), summarize([0.75, 0.85, 0.95])
    assert compare_metric(before, after).change is Change.SAME


def test_tiny_but_consistent_difference_is_not_a_finding():
    before, after = summarize([1.000, 1.0001, 0.9999]), summarize([0.990, 0.9901, 0.9899])
    assert compare_metric(before, after).change is Change.SAME  # 1% < MIN_RELATIVE_EFFECT
    assert compare_metric(before, after, min_effect=0.001).change is Change.BETTER


def test_one_seed_cannot_show_a_significant_difference():
    assert compare_metric(summarize([1.0]), summarize([0.01])).change is Change.SAME


def test_divergence_on_one_side_decides():
    assert compare_metric(summarize([1.0, 1.1]), summarize([math.nan, 1.0])).change is Change.WORSE
    assert compare_metric(summarize([math.inf, 1.0]), summarize([1.0, 1.1])).change is Change.BETTER


def test_missing_side_is_not_compared():
    assert compare_metric(None, summarize([1.0, 2.0])).change is Change.MISSING


# ------------------------------------------------------------------------------------------- a run's numbers


def test_run_metrics_read_the_last_fit_evaluation_and_probe():
    record = {
        "status": "ok",
        "fits": [
            {"final": {"loss": 9.0}, "probe": {"inference_gap": 0.9, "moving_stat_error": 0.8}},
            {"final": {"loss": 1.0, "val_loss": 2.0}, "probe": None},  # a model without BN
        ],
        "evaluations": [{"results": {"loss": 7.0}}, {"results": {"loss": 3.0, "mae": 1.0}}],
    }
    assert run_metrics(record) == {
        "train_loss": 1.0,
        "val_loss": 2.0,
        "val_accuracy": None,
        "test_loss": 3.0,
        "test_accuracy": None,
        "input_shift": None,
        "inference_gap": 0.9,
        "moving_stat_error": 0.8,
    }


# ------------------------------------------------------------------------------------------- verdicts


def test_crash_before_and_runs_after_is_a_fixed_crash():
    judgement = judge([run(0, "crash"), run(1, "crash")], runs(train=[0.1, 0.2]))
    assert judgement.verdict is Verdict.FIXED_CRASH
    assert "ValueError: boom" in judgement.reason
    assert not judgement.verdict.is_regression


def test_new_crash_is_a_regression():
    judgement = judge(runs(test=[1.0, 1.1]), [run(0, "crash"), run(1)])
    assert judgement.verdict is Verdict.NEW_CRASH and judgement.verdict.is_regression


def test_a_timeout_is_reported_with_the_epochs_it_completed_never_as_a_crash():
    timed_out = [dict(run(seed, "timeout"), fits=[{"model": "m#1", "epochs": 3, "final": {"loss": 2.0}}]) for seed in (0, 1)]
    judgement = judge(runs(test=[1.0, 1.1]), timed_out)
    assert judgement.verdict is Verdict.TIMED_OUT and not judgement.verdict.is_regression
    assert judgement.reason == "the repaired version timed out after 3 epochs"
    assert judge(timed_out, timed_out).reason == "both versions timed out after 3 epochs"


def test_both_failing_for_the_same_reason_is_not_verified_and_says_why():
    missing = {"type": "FileNotFoundError", "message": "data/train.csv not found."}
    judgement = judge([run(0, "crash", error=missing)] * 2, [run(0, "crash", error=missing)] * 2)
    assert judgement.verdict is Verdict.NOT_VERIFIED and judgement.verdict.is_unverified
    assert judgement.reason == "both versions fail with FileNotFoundError: data/train.csv not found."


def test_both_failing_for_different_reasons_still_crashes():
    other = {"type": "ImportError", "message": "No module named 'wandb'"}
    judgement = judge([run(0, "crash")], [run(0, "crash", error=other)])
    assert judgement.verdict is Verdict.STILL_CRASHES and judgement.verdict.is_unverified
    assert "original: ValueError: boom" in judgement.reason and "repaired: ImportError" in judgement.reason


def test_a_run_that_could_not_start_is_an_error_not_a_verdict():
    judgement = judge(runs(test=[1.0, 1.1]), [run(0, "error"), run(1, "error")])
    assert judgement.verdict is Verdict.ERROR and not judgement.verdict.is_regression


def test_held_out_loss_decides_and_diagnostics_are_evidence():
    before = runs(test=[1.0, 1.1, 0.9], gap=[0.1, 0.11, 0.09], stat=[0.5, 0.5, 0.5])
    after = runs(test=[0.5, 0.55, 0.45], gap=[0.3, 0.31, 0.29], stat=[0.5, 0.5, 0.5])
    judgement = judge(before, after)
    assert judgement.verdict is Verdict.IMPROVED
    assert judgement.judged_on == "test_loss"
    assert judgement.reason == "test loss lower (inference gap higher)"


def test_unchanged_held_out_loss_is_no_significant_change_even_with_a_better_gap():
    before = runs(test=[1.0, 1.2, 0.8], gap=[0.5, 0.5, 0.5])
    after = runs(test=[1.0, 1.2, 0.8], gap=[0.1, 0.1, 0.1])
    judgement = judge(before, after)
    assert judgement.verdict is Verdict.NO_CHANGE
    assert "inference gap lower" in judgement.reason


def test_without_held_out_loss_the_inference_gap_decides_and_says_so():
    before = runs(train=[0.1, 0.1], gap=[0.7, 0.69])
    after = runs(train=[0.1, 0.1], gap=[0.2, 0.21])
    judgement = judge(before, after)
    assert (judgement.verdict, judgement.judged_on) == (Verdict.IMPROVED, "inference_gap")
    assert judgement.reason == "inference gap lower; judged on BN behaviour alone (no held-out metric)"


def test_a_model_that_did_not_learn_gets_no_verdict_from_its_inference_gap():
    # Random labels for a handful of updates: the loss stays where it started, the gap means nothing.
    before = runs(train=[0.69, 0.70], gap=[0.7, 0.69], start=[0.70, 0.70])
    after = runs(train=[0.69, 0.70], gap=[0.2, 0.21], start=[0.70, 0.70])
    judgement = judge(before, after)
    assert judgement.verdict is Verdict.DID_NOT_LEARN and judgement.verdict.is_unverified
    assert judgement.reason == "training loss 0.7 → 0.69, within 5% of where it started"


def test_accuracy_at_chance_is_not_learning():
    record = run(0, train=0.2)
    record["fits"][0]["final"]["accuracy"] = 0.51
    record["fits"][0]["label_majority"] = 0.5
    judgement = judge([record, record], [record, record])
    assert judgement.verdict is Verdict.DID_NOT_LEARN
    assert "no better than always answering the majority class (0.5)" in judgement.reason


def test_held_out_accuracy_is_higher_is_better():
    judgement = judge(runs(test_acc=[0.6, 0.61]), runs(test_acc=[0.9, 0.91]))
    assert (judgement.verdict, judgement.judged_on, judgement.reason) == (
        Verdict.IMPROVED, "test_accuracy", "test accuracy higher"
    )  # fmt: skip


def test_a_predict_only_script_is_judged_on_the_input_shift():
    judgement = judge(runs(shift=[49.5, 49.4], gap=[0.1, 0.1]), runs(shift=[0.09, 0.1], gap=[0.1, 0.1]))
    assert (judgement.verdict, judgement.judged_on) == (Verdict.IMPROVED, "input_shift")


def test_all_nan_metrics_are_not_measured():
    judgement = judge(runs(train=[math.nan, math.nan]), runs(train=[math.nan, math.nan]))
    assert judgement.verdict is Verdict.NOT_MEASURED and "every metric is NaN" in judgement.reason


def test_validation_loss_decides_before_the_gap_and_the_training_loss():
    before = runs(train=[1.0, 1.0], val=[1.0, 1.01], gap=[0.5, 0.51])
    after = runs(train=[0.2, 0.21], val=[2.0, 2.01], gap=[0.1, 0.11])
    judgement = judge(before, after)
    assert (judgement.verdict, judgement.judged_on) == (Verdict.WORSE, "val_loss")
    assert judgement.verdict.is_regression


def test_nothing_recorded_is_not_measured():
    empty = dict(run(0), fits=[])
    judgement = judge([empty], [empty])
    assert judgement.verdict is Verdict.NOT_MEASURED
    assert judgement.reason == "nothing recorded: no fit, evaluate, predict or *_on_batch call"


def update_run(ran: int, own: int, test: float) -> dict:
    record = run(0, test=test)
    record["fits"][0].update(updates=ran, budget={"script_updates": own})
    return record


def test_bnf203_judged_below_the_scripts_own_update_count_is_not_representative():
    before, after = [update_run(4, 40, 1.0), update_run(4, 40, 1.1)], [update_run(4, 40, 0.1), update_run(4, 40, 0.11)]
    judgement = judge_update_count(judge(before, after), before, budget_active=True)
    assert judgement.verdict is Verdict.NOT_REPRESENTATIVE and judgement.updates == {"run": 4, "script": 40}
    assert judgement.reason.startswith("4 budgeted updates vs 40 in the script; measured: improved (test loss lower)")


def test_bnf203_not_run_at_its_own_count_says_why():
    before, after = [update_run(4, 40, 1.0), update_run(4, 40, 1.1)], [update_run(4, 40, 0.1), update_run(4, 40, 0.11)]
    why = "one run at the script's own count would take about 900 s, more than the 300 s time limit"
    judgement = judge_update_count(judge(before, after), before, budget_active=True, not_run=why)
    assert f"{judgement.verdict.value}: {judgement.reason}".startswith(
        f"not representative: 4 budgeted updates vs 40 in the script ({why}); measured: improved"
    )


def test_bnf203_that_did_not_learn_in_the_budget_says_both_counts():
    flat = [dict(update_run(4, 40, 1.0), fits=[dict(update_run(4, 40, 1.0)["fits"][0], first_batch_loss=1.0)])]
    judgement = judge(flat, flat)
    assert judgement.verdict is Verdict.DID_NOT_LEARN
    judgement = judge_update_count(judgement, flat, budget_active=True)
    assert judgement.verdict is Verdict.DID_NOT_LEARN
    assert judgement.reason.endswith("; 4 budgeted updates vs 40 in the script")


def test_bnf203_judged_at_its_own_count_without_the_budget():
    budgeted_before = [update_run(4, 40, 1.0), update_run(4, 40, 1.1)]
    budgeted = judge(budgeted_before, [update_run(4, 40, 1.0), update_run(4, 40, 1.08)])
    own_before = [update_run(40, 40, 1.0), update_run(40, 40, 1.1)]
    own = judge(own_before, [update_run(40, 40, 0.1), update_run(40, 40, 0.11)])
    judgement = judge_at_own_count(own, budgeted, own_before, budgeted_before)
    assert judgement.verdict is Verdict.IMPROVED and judgement.judged_on == "test_loss"
    assert judgement.updates == {"run": 40, "script": 40, "budgeted": 4}
    assert judgement.reason == (
        "test loss lower; judged at the script's own 40 updates, without the budget "
        "(after the budget's 4: no significant change)"
    )


def test_bnf203_at_its_own_count_that_cannot_judge_is_not_representative():
    budgeted_before = [update_run(4, 40, 1.0), update_run(4, 40, 1.1)]
    budgeted = judge(budgeted_before, [update_run(4, 40, 0.1), update_run(4, 40, 0.11)])
    timed_out = [dict(run(seed), status="timeout", fits=[]) for seed in (0, 1)]
    own = judge(timed_out, timed_out)
    judgement = judge_at_own_count(own, budgeted, timed_out, budgeted_before)
    assert judgement.verdict is Verdict.NOT_REPRESENTATIVE and judgement.metrics is budgeted.metrics
    assert judgement.reason.startswith("4 budgeted updates vs 40 in the script (without the budget: timed out: ")
    assert judgement.reason.endswith("measured: improved (test loss lower)")


def test_a_run_at_the_scripts_own_count_is_affordable_within_the_time_limit():
    original = [dict(update_run(4, 40, 1.0), duration=2.0), dict(update_run(4, 40, 1.0), duration=3.0)]
    repaired = [dict(update_run(4, 40, 1.0), duration=2.5)]
    decision = own_count_decision(original, repaired, timeout=30.0)
    assert (decision.budgeted, decision.own, decision.expected_seconds, decision.affordable) == (4, 40, 30.0, True)
    decision = own_count_decision(original, repaired, timeout=29.0)
    assert not decision.affordable
    assert decision.reason == "one run at the script's own count would take about 30 s, more than the 29 s time limit"


def test_no_own_count_decision_when_the_budget_did_not_cut_or_a_run_failed():
    assert own_count_decision([update_run(40, 40, 1.0)], [update_run(40, 40, 1.0)], 300.0) is None
    crashed = dict(update_run(4, 40, 1.0), status="crash")
    assert own_count_decision([update_run(4, 40, 1.0)], [crashed], 300.0) is None
    unknown = update_run(4, 40, 1.0)
    unknown["fits"][0]["budget"] = {"script_updates": None}  # a generator without a length
    assert own_count_decision([unknown], [unknown], 300.0) is None


def test_bnf203_judged_at_the_scripts_own_update_count_keeps_its_verdict():
    before, after = [update_run(40, 40, 1.0), update_run(40, 40, 1.1)], [update_run(40, 40, 0.1), update_run(40, 40, 0.11)]
    judgement = judge_update_count(judge(before, after), before, budget_active=True)
    assert judgement.verdict is Verdict.IMPROVED
    assert judgement.reason.endswith("judged at the script's own 40 updates")


# ------------------------------------------------------------------------------------------- the probe's formulas


@pytest.fixture
def numpy_in_harness(monkeypatch):
    monkeypatch.setattr(harness, "np", numpy)


def bn_layer(**attributes):
    defaults = {"name": "batch_normalization", "trainable": True, "momentum": 0.99, "axis": -1, "epsilon": 1e-3}
    return SimpleNamespace(**{**defaults, **attributes})


def test_converged_moving_statistics_have_no_error(numpy_in_harness):
    inputs = numpy.random.default_rng(0).normal(3.0, 2.0, size=(500, 4))
    mean, variance = inputs.mean(axis=0), inputs.var(axis=0)
    entry = harness.moving_statistics_error(bn_layer(), inputs, mean, variance)
    assert entry["normalisation_error"] == pytest.approx(0.0, abs=1e-12)
    assert entry["mean_error"] == entry["variance_error"] == 0.0


def test_two_thirds_of_the_initial_statistics_left_in_place(numpy_in_harness):
    # 40 updates at momentum 0.99 keep 0.99**40 = 67% of the initial mean 0 and variance 1 (DESIGN.md).
    inputs = numpy.random.default_rng(1).normal(2.0, 0.5, size=(1000, 3))
    mean, variance = inputs.mean(axis=0), inputs.var(axis=0)
    kept = 0.99**40
    entry = harness.moving_statistics_error(bn_layer(epsilon=0.0), inputs, (1 - kept) * mean, kept + (1 - kept) * variance)
    assert entry["mean_error"] == pytest.approx(kept)
    # The normalised output x -> (x - m')/s' against z = (x - m)/s: sqrt((s/s' - 1)^2 + ((m - m')/s')^2).
    s, s_moving = numpy.sqrt(variance), numpy.sqrt(kept + (1 - kept) * variance)
    expected = numpy.sqrt(numpy.mean((s / s_moving - 1) ** 2 + ((kept * mean) / s_moving) ** 2))
    assert entry["normalisation_error"] == pytest.approx(expected)
    assert entry["channels"] == 3


def test_convolution_statistics_reduce_over_every_axis_but_the_channels(numpy_in_harness):
    inputs = numpy.zeros((2, 5, 5, 3))
    inputs[..., 1] = 4.0
    entry = harness.moving_statistics_error(bn_layer(), inputs, numpy.array([0.0, 4.0, 0.0]), numpy.zeros(3))
    assert entry["channels"] == 3 and entry["mean_error"] == 0.0


def test_inference_gap_is_relative_to_the_training_mode_outputs(numpy_in_harness):
    training = numpy.array([1.0, -1.0, 1.0, -1.0])
    gap = harness.inference_gap(training, training * 0.5)
    assert gap["inference_gap"] == pytest.approx(0.5)
    assert harness.inference_gap(training, training)["inference_gap"] == 0.0


# ------------------------------------------------------------------------------------------- report and JSON


def test_summary_cells():
    assert format_summary(None) == "—"
    assert format_summary(summarize([0.5])) == "0.5"
    assert format_summary(summarize([1.0, 2.0])) == "1.5±0.71"
    assert format_summary(summarize([math.nan, math.nan])) == "nan"


def test_json_document_is_standard_json_with_every_number(tmp_path):
    rows = [
        Row(Path("a.py"), "post", ["BNF201"], judge([run(0, "crash")] * 2, runs(train=[math.nan, 0.2])), [], []),
    ]
    document = json_document(rows, [], RunOptions(seeds=(0, 1)), {"policy": "post"}, 1.5, 0)
    target = tmp_path / "out.json"
    write_json(target, document)  # allow_nan=False: a NaN left in would raise here
    loaded = json.loads(target.read_text())
    script = loaded["scripts"][0]
    assert script["verdict"] == "fixed crash" and script["rules"] == ["BNF201"]
    assert script["metrics"]["train_loss"]["after"]["non_finite"] == 1
    assert loaded["seeds"] == [0, 1]


def test_what_max_samples_kept_of_a_dataset_is_printed_and_in_the_json():
    from rich.console import Console

    from bnfix.verify.report import render_table

    capped = {"kind": "tf.data.Dataset", "batches": 4, "batch_size": 32, "rows": 128, "script_batches": 32}
    before = runs(train=[1.0, 1.1], test=[1.0, 1.1])
    for record in before:
        record["fits"][0]["budget"] = {"capped_x": capped}
    row = Row(Path("a.py"), "post", ["BNF101"], judge(before, before), before, before)
    console = Console(record=True, width=300)
    render_table([row], [], console, show_policy=False)
    phrase = "fit x (tf.data.Dataset): the first 4 batches of 32 (128 rows, of 32 batches)"
    assert f"a.py: --max-samples kept {phrase}" in console.export_text()
    document = json_document([row], [], RunOptions(seeds=(0, 1)), {}, 1.0, 0)
    assert document["scripts"][0]["capped_inputs"] == [phrase]


def test_scripts_without_repairs_are_reported_and_not_run(tmp_path):
    script = tmp_path / "plain.py"
    script.write_text("print('no keras here')\n")
    plan = plan_script(script, Settings())
    assert plan.variants == [] and plan.error is None
    (row,) = build_rows(run_plans([plan], RunOptions()))  # would need TensorFlow if it ran anything
    assert row.verdict is Verdict.NOTHING_TO_REPAIR


def test_a_parse_error_is_an_error_row(tmp_path):
    script = tmp_path / "broken.py"
    script.write_text("from keras import layers\nlayers.BatchNormalization(\n")
    (row,) = build_rows(run_plans([plan_script(script, Settings())], RunOptions()))
    assert row.verdict is Verdict.ERROR and "syntax error" in row.judgement.reason


# ------------------------------------------------------------------------------------------- planning and copies

PLACEMENT = (
    "from tensorflow import keras\nfrom tensorflow.keras import layers\n"
    'model = keras.Sequential([layers.Dense(4), layers.BatchNormalization(), layers.Activation("relu")])\n'
)


def test_plan_repairs_like_apply_and_one_variant_per_policy(tmp_path):
    script = tmp_path / "model.py"
    script.write_text(PLACEMENT)
    plan = plan_script(script, Settings())
    assert [(v.policy, v.fixed) for v in plan.variants] == [("post", ["BNF101"])]
    every = plan_script(script, Settings(), list(PlacementPolicy))
    assert [v.policy for v in every.variants] == ["post"]  # pre and keep leave this order alone
    assert script.read_text() == PLACEMENT


def test_copy_limit_failure_is_an_error_row_without_starting_tensorflow(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "weights.bin").write_bytes(b"\0" * 4096)
    (project / "model.py").write_text(PLACEMENT)
    options = RunOptions(seeds=(0, 1), max_copy_bytes=1024, python="/nonexistent/python")
    (row,) = build_rows(run_plans([plan_script(project / "model.py", Settings())], options))
    assert row.verdict is Verdict.ERROR and "--max-copy-mb" in row.judgement.reason


def test_a_harness_that_cannot_start_is_an_error_row(tmp_path):
    (tmp_path / "model.py").write_text(PLACEMENT)
    options = RunOptions(seeds=(0, 1), python=str(tmp_path / "no-such-python"))
    (row,) = build_rows(run_plans([plan_script(tmp_path / "model.py", Settings())], options))
    assert row.verdict is Verdict.ERROR
    assert "cannot start" in row.judgement.reason and "no-such-python" in row.judgement.reason


def test_children_get_the_hash_seed_and_find_bnfix():
    env = _child_environment(RunOptions(seeds=(7, 8)))
    assert env["PYTHONHASHSEED"] == "7"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert str(Path(__file__).resolve().parents[1]) in env["PYTHONPATH"].split(":")


# ------------------------------------------------------------------------------------------- no TensorFlow here


def test_parent_side_never_imports_tensorflow_or_keras():
    code = (
        "import sys\n"
        "import bnfix.cli, bnfix.verify.command, bnfix.verify.runner, bnfix.verify.compare, bnfix.verify.report\n"
        "import bnfix.verify.harness\n"  # importing the harness module alone must not import Keras either
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tf_keras'))\n"
        "print(heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
