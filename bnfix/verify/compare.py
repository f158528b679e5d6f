"""Statistics and verdicts for `bnfix verify`: pure Python, no TensorFlow.

Every metric is "lower is better": the final training and validation loss, the test loss (the last
`evaluate`), the inference gap and the moving-statistics error (see harness.py for their definitions).

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

MIN_RELATIVE_EFFECT = 0.05
# The verdict is decided by the first of these that both versions recorded: the held-out loss when the script
# measures one; otherwise the inference gap (the training loss is computed in training mode and cannot see what
# BatchNormalization does at inference); the training loss last. The other metrics are evidence, not votes.
DECIDING = ("test_loss", "val_loss", "inference_gap", "train_loss")
METRICS = ("train_loss", "val_loss", "test_loss", "inference_gap", "moving_stat_error")
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
    STILL_CRASHES = "still crashes"
    NOTHING_TO_REPAIR = "nothing to repair"
    ERROR = "error"  # could not be verified (parse error, copy too large, the harness failed)

    @property
    def is_regression(self) -> bool:
        return self in (Verdict.WORSE, Verdict.NEW_CRASH)


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


def compare_metric(before: Summary | None, after: Summary | None, min_effect: float = MIN_RELATIVE_EFFECT) -> MetricComparison:
    """Is `after` significantly lower (better) or higher (worse) than `before`?"""
    if before is None or after is None:
        return MetricComparison(Change.MISSING, before, after)
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


def run_metrics(run: dict) -> dict[str, float | None]:
    """The numbers one harness record contributes: the last fit's losses, the last evaluation, the last probe."""
    fits = [fit for fit in run.get("fits") or [] if "final" in fit]
    last = fits[-1]["final"] if fits else {}
    evaluations = run.get("evaluations") or []
    probes = [fit["probe"] for fit in fits if fit.get("probe") and "inference_gap" in fit["probe"]]
    probe = probes[-1] if probes else {}
    return {
        "train_loss": last.get("loss"),
        "val_loss": last.get("val_loss"),
        "test_loss": evaluations[-1].get("results", {}).get("loss") if evaluations else None,
        "inference_gap": probe.get("inference_gap"),
        "moving_stat_error": probe.get("moving_stat_error"),
    }


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

    def as_dict(self) -> dict:
        return {
            "verdict": self.verdict.value,
            "reason": self.reason,
            "judged_on": self.judged_on,
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
            error = run["error"]
            return f"{error.get('type')}: {error.get('message')}"
    return ""


def judge(before: Sequence[dict], after: Sequence[dict], min_effect: float = MIN_RELATIVE_EFFECT) -> Judgement:
    """The verdict on a repair, from the harness records of the original (`before`) and the repaired script."""
    before_summary, after_summary = summarize_runs(before), summarize_runs(after)
    metrics = {name: compare_metric(before_summary[name], after_summary[name], min_effect) for name in METRICS}

    for side, runs in (("original", before), ("repaired", after)):
        if any(run.get("status") == "error" for run in runs):
            return Judgement(Verdict.ERROR, f"the {side} script could not be run: {first_failure(runs)}", metrics)
    failed_before = sum(run.get("status") in FAILED for run in before) / max(1, len(before))
    failed_after = sum(run.get("status") in FAILED for run in after) / max(1, len(after))
    if failed_after > failed_before:
        return Judgement(Verdict.NEW_CRASH, f"the repaired script fails: {first_failure(after)}", metrics)
    if failed_before == 1 and failed_after == 1:
        return Judgement(Verdict.STILL_CRASHES, f"both fail; repaired: {first_failure(after)}", metrics)
    if failed_after < failed_before and (failed_after == 0 or failed_before == 1):
        runs = "runs" if failed_after == 0 else "runs with some seeds"
        return Judgement(Verdict.FIXED_CRASH, f"the original fails ({first_failure(before)}); the repair {runs}", metrics)

    judged_on = next((name for name in DECIDING if metrics[name].change is not Change.MISSING), None)
    if judged_on is None:
        return Judgement(Verdict.NO_CHANGE, "no loss or BatchNormalization probe recorded to compare", metrics)
    change = metrics[judged_on].change
    others = _evidence(metrics, judged_on)
    name = judged_on.replace("_", " ")
    if change is Change.BETTER:
        return Judgement(Verdict.IMPROVED, f"{name} lower{others}", metrics, judged_on)
    if change is Change.WORSE:
        return Judgement(Verdict.WORSE, f"{name} higher{others}", metrics, judged_on)
    return Judgement(Verdict.NO_CHANGE, f"{name}: no difference beyond the seed-to-seed spread{others}", metrics, judged_on)


def _evidence(metrics: dict[str, MetricComparison], judged_on: str) -> str:
    """The other significant changes, for the reason text: they explain a verdict but do not make it."""
    parts = [
        f"{name.replace('_', ' ')} {'lower' if comparison.change is Change.BETTER else 'higher'}"
        for name, comparison in metrics.items()
        if name != judged_on and comparison.change in (Change.BETTER, Change.WORSE)
    ]
    return f" ({', '.join(parts)})" if parts else ""


def _finite_or_none(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None
