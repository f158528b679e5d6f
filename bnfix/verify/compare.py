"""Statistics and verdicts for `bnfix verify`: pure Python, no TensorFlow.

The metrics (records.run_metrics): the final training and validation loss and accuracy, the test loss and
accuracy (the last `evaluate`), the input shift, the inference gap and the moving-statistics error. Lower is
better, except the accuracies.

Before any metric: a repair is judged only when both versions ran and recorded something, and a model learned;
otherwise the verdict names what is missing (not verified: both fail for the same reason; timed out after N
epochs; not measured; model did not learn). These are not "no significant change", and `UNVERIFIED` lists them.
One metric decides the verdict (see DECIDING); the others are reported as evidence. A difference counts only
when it is larger than the seed-to-seed spread: with mean ± standard deviation over the seeds on each side,
`after` is better or worse than `before` when the two intervals do not overlap (|mean_after - mean_before| >
sd_before + sd_after) and the difference is also at least `MIN_RELATIVE_EFFECT` of the larger mean (a 0.1%
difference is not a finding even when every seed agrees). With one seed there is no spread to compare against,
so no metric differs significantly.
"""

from __future__ import annotations

import enum
import math
import statistics
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from bnfix.verify.records import completed_epochs, failure_reason, learned, recorded_anything, run_metrics, update_counts

MIN_RELATIVE_EFFECT = 0.05
# The verdict is decided by the first of these that both versions recorded: held-out data first (test, then
# validation; loss, then accuracy); then the input shift (raw-vs-scaled data, measurable from `predict` alone);
# then the inference gap, only when the model learned (a model trained on noise for a handful of updates has a gap
# that means nothing); the training loss last (training mode: it cannot see what BN does at inference).
DECIDING = ("test_loss", "test_accuracy", "val_loss", "val_accuracy", "input_shift", "inference_gap", "train_loss")
METRICS = (
    "train_loss", "val_loss", "val_accuracy", "test_loss", "test_accuracy", "input_shift", "inference_gap",
    "moving_stat_error",
)  # fmt: skip
HIGHER_IS_BETTER = frozenset({"val_accuracy", "test_accuracy"})
HELD_OUT = frozenset({"test_loss", "test_accuracy", "val_loss", "val_accuracy"})
FAILED = ("crash", "timeout")


class Change(str, enum.Enum):
    BETTER = "better"
    WORSE = "worse"
    SAME = "same"  # no significant difference
    MISSING = "n/a"  # one side has no value


class Verdict(str, enum.Enum):
    IMPROVED = "improved"
    WORSE = "worse"
    NO_CHANGE = "no significant change"
    FIXED_CRASH = "fixed crash"
    NEW_CRASH = "new crash"
    NOTHING_TO_REPAIR = "nothing to repair"
    # Not verified: the runs happened but cannot judge the repair. Each says why in its reason.
    NOT_VERIFIED = "not verified"  # both versions fail for the same reason (a missing file, an absent package)
    STILL_CRASHES = "still crashes"  # both versions fail, for different reasons
    TIMED_OUT = "timed out"
    NOT_MEASURED = "not measured"  # nothing recorded, or every metric NaN
    DID_NOT_LEARN = "model did not learn"
    NOT_REPRESENTATIVE = "not representative"  # BNF203 judged at a budget below the script's own update count
    ERROR = "error"  # could not be run at all (parse error, staging failed, the harness failed)

    @property
    def is_regression(self) -> bool:
        return self in (Verdict.WORSE, Verdict.NEW_CRASH)

    @property
    def is_unverified(self) -> bool:
        return self in UNVERIFIED


UNVERIFIED = frozenset(
    {Verdict.NOT_VERIFIED, Verdict.STILL_CRASHES, Verdict.TIMED_OUT, Verdict.NOT_MEASURED, Verdict.DID_NOT_LEARN,
     Verdict.NOT_REPRESENTATIVE, Verdict.ERROR}
)  # fmt: skip


@dataclass(frozen=True)
class Summary:
    """Finite values over the seeds, plus how many runs produced a non-finite one (a diverged loss)."""

    values: tuple[float, ...]
    non_finite: int = 0

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values) if self.values else math.nan

    @property
    def spread(self) -> float:
        """Sample standard deviation; 0 for a single value."""
        return statistics.stdev(self.values) if len(self.values) > 1 else 0.0

    def as_dict(self) -> dict:
        return {
            "mean": _finite_or_none(self.mean),
            "spread": self.spread if self.values else None,
            "n": self.n,
            "values": list(self.values),
            "non_finite": self.non_finite,
        }


def summarize(values: Iterable[float | None]) -> Summary | None:
    """None when no run produced the metric at all."""
    present = [float(v) for v in values if v is not None]
    if not present:
        return None
    finite = tuple(v for v in present if math.isfinite(v))
    return Summary(finite, len(present) - len(finite))


@dataclass(frozen=True)
class MetricComparison:
    change: Change
    before: Summary | None
    after: Summary | None

    @property
    def difference(self) -> float | None:
        if self.before is None or self.after is None or not self.before.n or not self.after.n:
            return None
        return self.after.mean - self.before.mean

    def as_dict(self) -> dict:
        return {
            "change": self.change.value,
            "before": self.before.as_dict() if self.before else None,
            "after": self.after.as_dict() if self.after else None,
            "difference": _finite_or_none(self.difference),
        }


def compare_metric(
    before: Summary | None, after: Summary | None, min_effect: float = MIN_RELATIVE_EFFECT, higher_is_better: bool = False
) -> MetricComparison:
    """Is `after` significantly better or worse than `before` (lower is better unless `higher_is_better`)?"""
    if before is None or after is None or (not before.n and not after.n):
        return MetricComparison(Change.MISSING, before, after)
    if higher_is_better:
        flipped = compare_metric(_negated(before), _negated(after), min_effect)
        return MetricComparison(flipped.change, before, after)
    # A run that diverged (NaN or inf) on one side only decides the comparison by itself.
    if after.non_finite and not before.non_finite:
        return MetricComparison(Change.WORSE, before, after)
    if before.non_finite and not after.non_finite:
        return MetricComparison(Change.BETTER, before, after)
    if before.n < 2 or after.n < 2:
        return MetricComparison(Change.SAME, before, after)
    difference = after.mean - before.mean
    noise = before.spread + after.spread
    threshold = max(noise, min_effect * max(abs(before.mean), abs(after.mean)))
    if abs(difference) <= threshold:
        return MetricComparison(Change.SAME, before, after)
    return MetricComparison(Change.BETTER if difference < 0 else Change.WORSE, before, after)


def _negated(summary: Summary) -> Summary:
    return Summary(tuple(-value for value in summary.values), summary.non_finite)


def summarize_runs(runs: Sequence[dict]) -> dict[str, Summary | None]:
    """Per metric, the summary over the runs that finished (crashed runs have no metrics)."""
    finished = [run_metrics(run) for run in runs if run.get("status") == "ok"]
    return {metric: summarize(values.get(metric) for values in finished) for metric in METRICS}


@dataclass
class Judgement:
    verdict: Verdict
    reason: str
    metrics: dict[str, MetricComparison] = field(default_factory=dict)
    judged_on: str | None = None
    learned: dict[str, bool | None] = field(default_factory=dict)  # side -> did its model learn
    updates: dict[str, int | None] = field(default_factory=dict)  # BNF203: {"run": ..., "script": ...}

    def as_dict(self) -> dict:
        return {
            "verdict": self.verdict.value,
            "reason": self.reason,
            "judged_on": self.judged_on,
            "learned": self.learned,
            "updates": self.updates,
            "metrics": {name: comparison.as_dict() for name, comparison in self.metrics.items()},
        }


def outcome_counts(runs: Sequence[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for run in runs:
        counts[run.get("status", "error")] = counts.get(run.get("status", "error"), 0) + 1
    return counts


def first_failure(runs: Sequence[dict]) -> str:
    for run in runs:
        if run.get("status") != "ok" and run.get("error"):
            return failure_reason(run)
    return ""


def _epochs_before_timeout(runs: Sequence[dict]) -> str:
    counts = sorted({completed_epochs(run) for run in runs if run.get("status") == "timeout"})
    text = str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
    return f"timed out after {text} epoch{'' if counts == [1] else 's'}"


def _side_learned(runs: Sequence[dict]) -> tuple[bool | None, str]:
    """The majority answer over the finished runs, with the reason of the first run that gave it.

    A tie is "did not learn": on a real script (a regression stuck at the targets' variance) one seed's first batch
    happened to start 6% above the plateau and the other's below it; half the seeds is not evidence of learning.
    """
    answers = [learned(run) for run in runs if run.get("status") == "ok"]
    yes, no = [a for a in answers if a[0] is True], [a for a in answers if a[0] is False]
    if yes and len(yes) > len(no):
        return True, yes[0][1]
    if no:
        return False, no[0][1]
    return None, answers[0][1] if answers else "no run finished"


def judge(before: Sequence[dict], after: Sequence[dict], min_effect: float = MIN_RELATIVE_EFFECT) -> Judgement:
    """The verdict on a repair, from the harness records of the original (`before`) and the repaired script."""
    before_summary, after_summary = summarize_runs(before), summarize_runs(after)
    metrics = {
        name: compare_metric(before_summary[name], after_summary[name], min_effect, name in HIGHER_IS_BETTER)
        for name in METRICS
    }

    for side, runs in (("original", before), ("repaired", after)):
        if any(run.get("status") == "error" for run in runs):
            return Judgement(Verdict.ERROR, f"the {side} script could not be run: {first_failure(runs)}", metrics)
    failure = _judge_failures(before, after, metrics)
    if failure is not None:
        return failure

    finished = [run for run in [*before, *after] if run.get("status") == "ok"]
    if not any(recorded_anything(run) for run in finished):
        return Judgement(Verdict.NOT_MEASURED, "nothing recorded: no fit, evaluate, predict or *_on_batch call", metrics)
    recorded = [name for name in METRICS if before_summary[name] is not None or after_summary[name] is not None]
    if recorded and all(not (s.n if s else 0) for name in recorded for s in (before_summary[name], after_summary[name])):
        return Judgement(Verdict.NOT_MEASURED, f"every metric is NaN ({', '.join(recorded)})", metrics)

    (learned_before, why_before), (learned_after, why_after) = _side_learned(before), _side_learned(after)
    learning = {"original": learned_before, "repaired": learned_after}
    if learned_before is not True and learned_after is not True:
        if learned_before is None and learned_after is None:
            return Judgement(Verdict.NOT_MEASURED, f"cannot tell whether the model learned: {why_before}", metrics, learned=learning)
        return Judgement(Verdict.DID_NOT_LEARN, f"{why_before if learned_before is False else why_after}", metrics, learned=learning)
    both_learned = learned_before is True and learned_after is True
    candidates = [n for n in DECIDING if metrics[n].change is not Change.MISSING and (n != "inference_gap" or both_learned)]
    if not candidates:
        side, why = ("original", why_before) if learned_before is not True else ("repaired", why_after)
        if metrics["inference_gap"].change is not Change.MISSING:
            return Judgement(
                Verdict.DID_NOT_LEARN, f"the {side} model did not learn ({why}), and no held-out metric was recorded",
                metrics, learned=learning,
            )  # fmt: skip
        return Judgement(Verdict.NOT_MEASURED, "no held-out metric, input shift or BN probe recorded by both versions", metrics, learned=learning)
    judged_on = candidates[0]
    change = metrics[judged_on].change
    note = ""
    if judged_on == "inference_gap":
        note = "; judged on BN behaviour alone (no held-out metric)"
    elif judged_on == "train_loss":
        note = "; judged on the training loss alone (training mode: blind to BN at inference)"
    others = _evidence(metrics, judged_on)
    name = judged_on.replace("_", " ")
    direction = {Change.BETTER: "higher", Change.WORSE: "lower"} if judged_on in HIGHER_IS_BETTER else {
        Change.BETTER: "lower", Change.WORSE: "higher"
    }  # fmt: skip
    if change is Change.BETTER:
        return Judgement(Verdict.IMPROVED, f"{name} {direction[change]}{others}{note}", metrics, judged_on, learning)
    if change is Change.WORSE:
        return Judgement(Verdict.WORSE, f"{name} {direction[change]}{others}{note}", metrics, judged_on, learning)
    return Judgement(
        Verdict.NO_CHANGE, f"{name}: no difference beyond the seed-to-seed spread{others}{note}", metrics, judged_on, learning
    )


def _judge_failures(before: Sequence[dict], after: Sequence[dict], metrics) -> Judgement | None:
    """Crashes and time limits: a verdict, or None when both versions ran well enough to compare."""
    def share(runs, status):
        return sum(run.get("status") == status for run in runs) / max(1, len(runs))

    crashed_before, crashed_after = share(before, "crash"), share(after, "crash")
    timed_before, timed_after = share(before, "timeout"), share(after, "timeout")
    failed_before, failed_after = crashed_before + timed_before, crashed_after + timed_after
    if failed_before == 1 and failed_after == 1:
        if timed_before == 1 and timed_after == 1:
            return Judgement(Verdict.TIMED_OUT, f"both versions {_epochs_before_timeout([*before, *after])}", metrics)
        reasons_before = {failure_reason(run) for run in before if run.get("status") == "crash"}
        reasons_after = {failure_reason(run) for run in after if run.get("status") == "crash"}
        if reasons_before and reasons_before == reasons_after:
            return Judgement(Verdict.NOT_VERIFIED, f"both versions fail with {first_failure(after)}", metrics)
        return Judgement(
            Verdict.STILL_CRASHES, f"both versions fail; original: {first_failure(before)}; repaired: {first_failure(after)}", metrics
        )
    if crashed_after > crashed_before:
        return Judgement(Verdict.NEW_CRASH, f"the repaired script fails: {first_failure(after)}", metrics)
    if timed_after > timed_before:
        return Judgement(Verdict.TIMED_OUT, f"the repaired version {_epochs_before_timeout(after)}", metrics)
    if crashed_after < crashed_before and (crashed_after == 0 or crashed_before == 1):
        runs = "runs" if failed_after == 0 else "runs with some seeds"
        return Judgement(Verdict.FIXED_CRASH, f"the original fails ({first_failure(before)}); the repair {runs}", metrics)
    if timed_before > timed_after:
        return Judgement(Verdict.TIMED_OUT, f"the original {_epochs_before_timeout(before)}", metrics)
    return None


MEASURED = frozenset({Verdict.IMPROVED, Verdict.WORSE, Verdict.NO_CHANGE})


def _update_counts(runs: Sequence[dict]) -> tuple[int | None, int | None]:
    """(the fewest updates a finished run ran, the script's own count) over the seeds."""
    counts = [update_counts(run) for run in runs if run.get("status") == "ok"]
    ran = min((c[0] for c in counts if c[0] is not None), default=None)
    own = max((c[1] for c in counts if c[1] is not None), default=None)
    return ran, own


def judge_update_count(
    judgement: Judgement, before: Sequence[dict], budget_active: bool, not_run: str | None = None
) -> Judgement:
    """BNF203 is about the number of updates: a verdict measured after fewer updates than the script's own is not
    representative of the repair (the momentum was chosen for the script's count). `not_run` says why the runs at
    the script's own count did not happen (own_count.py)."""
    ran, own = _update_counts(before)
    judgement.updates = {"run": ran, "script": own}
    cut = budget_active and ran is not None and own is not None and ran < own
    why = f" ({not_run})" if not_run else ""
    if cut and judgement.verdict is Verdict.DID_NOT_LEARN:  # perhaps only in the budget's fewer updates
        judgement.reason += f"; {ran} budgeted updates vs {own} in the script{why}"
    if ran is None or judgement.verdict not in MEASURED:
        return judgement
    if cut:
        return Judgement(
            Verdict.NOT_REPRESENTATIVE,
            f"{ran} budgeted updates vs {own} in the script{why}; "
            f"measured: {judgement.verdict.value} ({judgement.reason})",
            judgement.metrics, judgement.judged_on, judgement.learned, judgement.updates,
        )  # fmt: skip
    if own is None:
        judgement.reason += f"; judged at {ran} updates (the script's own count is unknown)"
    else:
        judgement.reason += f"; judged at the script's own {ran} updates"
    return judgement


def judge_at_own_count(own: Judgement, budgeted: Judgement, own_before: Sequence[dict], budgeted_before: Sequence[dict]) -> Judgement:
    """A BNF203 repair's verdict from runs at the script's own update count (`own`, runs `own_before`), the one
    under the budget (`budgeted`) kept as evidence. When the unbudgeted runs cannot judge it (they timed out, the
    model did not learn), the verdict is "not representative", with what the budget measured."""
    ran, own_count = _update_counts(own_before)
    budgeted_ran, script = _update_counts(budgeted_before)
    updates = {"run": ran, "script": own_count if own_count is not None else script, "budgeted": budgeted_ran}
    if own.verdict.is_unverified:
        return Judgement(
            Verdict.NOT_REPRESENTATIVE,
            f"{budgeted_ran} budgeted updates vs {updates['script']} in the script (without "
            f"the budget: {own.verdict.value}: {own.reason}); measured: {budgeted.verdict.value} ({budgeted.reason})",
            budgeted.metrics, budgeted.judged_on, budgeted.learned, updates,
        )  # fmt: skip
    reason = (
        f"{own.reason}; judged at the script's own {ran} updates, without the budget "
        f"(after the budget's {budgeted_ran}: {budgeted.verdict.value})"
    )
    return Judgement(own.verdict, reason, own.metrics, own.judged_on, own.learned, updates)


def _evidence(metrics: dict[str, MetricComparison], judged_on: str) -> str:
    """The other significant changes, for the reason text: they explain a verdict but do not make it."""
    parts = []
    for name, comparison in metrics.items():
        if name == judged_on or comparison.change not in (Change.BETTER, Change.WORSE):
            continue
        lower = (comparison.change is Change.BETTER) != (name in HIGHER_IS_BETTER)
        parts.append(f"{name.replace('_', ' ')} {'lower' if lower else 'higher'}")
    return f" ({', '.join(parts)})" if parts else ""


def _finite_or_none(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None
