"""What `bnfix verify` shows: a rich table (one row per repaired version of a script) and the `--json` document."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from bnfix.verify.compare import (
    METRICS,
    UNVERIFIED,
    Change,
    Judgement,
    MetricComparison,
    Summary,
    Verdict,
    judge,
    judge_at_own_count,
    judge_update_count,
    outcome_counts,
)
from bnfix.verify.own_count import depends_on_update_count
from bnfix.verify.records import capped_inputs
from bnfix.verify.runner import RunOptions, ScriptRuns

JSON_FORMAT_VERSION = 1
COLUMNS = {
    "train_loss": "train loss",
    "val_loss": "val loss",
    "val_accuracy": "val acc",
    "test_loss": "test loss",
    "test_accuracy": "test acc",
    "input_shift": "input shift",
    "inference_gap": "inference gap",
    "moving_stat_error": "moving-stat error",
}
ALWAYS_SHOWN = ("train_loss", "test_loss", "inference_gap")  # the others only when some script recorded them
VERDICT_STYLES = {
    Verdict.IMPROVED: "bold green",
    Verdict.FIXED_CRASH: "bold green",
    Verdict.WORSE: "bold red",
    Verdict.NEW_CRASH: "bold red",
    Verdict.ERROR: "bold magenta",
    **{verdict: "yellow" for verdict in UNVERIFIED if verdict is not Verdict.ERROR},
}


@dataclass
class Row:
    """One repaired version of one script against its original (or why there is nothing to compare)."""

    path: Path
    policy: str | None
    rules: list[str]
    judgement: Judgement
    before: list[dict] = field(default_factory=list)
    after: list[dict] = field(default_factory=list)
    # When `before`/`after` ran at the script's own update count (BNF203), the runs under the budget.
    budgeted: tuple[list[dict], list[dict]] | None = None

    @property
    def verdict(self) -> Verdict:
        return self.judgement.verdict


@dataclass
class PolicyComparison:
    path: Path
    baseline: str
    candidate: str
    judgement: Judgement


def build_rows(outcomes: Sequence[ScriptRuns], budget_active: bool = False) -> list[Row]:
    rows: list[Row] = []
    for outcome in outcomes:
        plan = outcome.plan
        if outcome.error is not None:
            rows.append(Row(plan.path, None, [], Judgement(Verdict.ERROR, outcome.error)))
            continue
        if not plan.variants:
            rows.append(Row(plan.path, None, [], Judgement(Verdict.NOTHING_TO_REPAIR, "no fix applies")))
            continue
        for variant in plan.variants:
            after = outcome.variants[variant.policy]
            judgement = judge(outcome.original, after)
            if not depends_on_update_count(variant.fixed):
                rows.append(Row(plan.path, variant.policy, variant.fixed, judgement, outcome.original, after))
                continue
            own_before, own_after = outcome.own_count_runs.get("original"), outcome.own_count_runs.get(variant.policy)
            if own_before is not None and own_after is not None:
                judgement = judge_at_own_count(judge(own_before, own_after), judgement, own_before, outcome.original)
                budgeted = (outcome.original, after)
                rows.append(Row(plan.path, variant.policy, variant.fixed, judgement, own_before, own_after, budgeted))
                continue
            decision = outcome.own_count
            not_run = decision.reason if decision is not None and not decision.affordable else None
            judgement = judge_update_count(judgement, outcome.original, budget_active, not_run)
            rows.append(Row(plan.path, variant.policy, variant.fixed, judgement, outcome.original, after))
    return rows


def compare_policies(outcomes: Sequence[ScriptRuns], baseline: str = "post", candidate: str = "pre") -> list[PolicyComparison]:
    """`candidate` against `baseline` for every script, where the two policies give different code."""
    comparisons = []
    for outcome in outcomes:
        if outcome.error is not None or not outcome.plan.variants:
            continue
        versions = {name: outcome.variants.get(name, outcome.original) for name in (baseline, candidate)}
        if versions[baseline] is versions[candidate]:
            continue  # both policies give the same text (or both leave the script as it was)
        comparisons.append(
            PolicyComparison(outcome.plan.path, baseline, candidate, judge(versions[baseline], versions[candidate]))
        )
    return comparisons


# ------------------------------------------------------------------------------------------------ the table


def format_summary(summary: Summary | None) -> str:
    if summary is None:
        return "—"
    if not summary.n:
        return "nan"
    text = f"{summary.mean:.3g}" if summary.n == 1 else f"{summary.mean:.3g}±{summary.spread:.2g}"
    return text + (f" ({summary.non_finite} nan)" if summary.non_finite else "")


def format_comparison(comparison: MetricComparison) -> str:
    if comparison.before is None and comparison.after is None:
        return ""
    text = f"{format_summary(comparison.before)} → {format_summary(comparison.after)}"
    style = {Change.BETTER: "green", Change.WORSE: "red"}.get(comparison.change)
    return f"[{style}]{text}[/{style}]" if style else text


def format_outcomes(runs: Sequence[dict]) -> str:
    """`ok`, `crash`, or the mix (`2 ok, 1 crash`) over the seeds."""
    counts = outcome_counts(runs)
    if not counts:
        return "—"
    if len(counts) == 1:
        return next(iter(counts))
    return ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))


def shown_columns(rows: Sequence[Row]) -> list[str]:
    def recorded(name: str) -> bool:
        return any(
            name in row.judgement.metrics
            and (row.judgement.metrics[name].before is not None or row.judgement.metrics[name].after is not None)
            for row in rows
        )

    return [name for name in COLUMNS if name in ALWAYS_SHOWN or recorded(name)]


def verdict_cell(row: Row) -> str:
    """The verdict, and for every outcome that is not a plain measurement its reason, in the table itself."""
    from rich.markup import escape

    style = VERDICT_STYLES.get(row.verdict)
    verdict = f"[{style}]{row.verdict.value}[/{style}]" if style else row.verdict.value
    if row.verdict in (Verdict.NOTHING_TO_REPAIR,):
        return verdict
    return f"{verdict}: {escape(row.judgement.reason)}"


def row_capped_inputs(row: Row) -> list[str]:
    """What --max-samples kept of the row's datasets and generators, from its first finished run."""
    finished = [run for run in [*row.before, *row.after] if run.get("status") == "ok"]
    return capped_inputs(finished[0]) if finished else []


def render_table(
    rows: Sequence[Row], comparisons: Sequence[PolicyComparison], console, show_policy: bool, budget: str | None = None
) -> None:
    from rich.markup import escape
    from rich.table import Table

    if budget is not None:
        console.print(f"budget: {budget}")
    table = Table(title="bnfix verify", show_lines=True)
    table.add_column("script", overflow="fold")
    if show_policy:
        table.add_column("policy")
    table.add_column("rules")
    seeds = max((len(row.before) for row in rows), default=0)
    table.add_column(f"runs ({seeds} seeds)" if seeds else "runs")
    columns = shown_columns(rows)
    for name in columns:
        table.add_column(COLUMNS[name])
    table.add_column("decided by")
    table.add_column("verdict", overflow="fold", ratio=2)
    for row in rows:
        cells = [escape(str(row.path))]
        if show_policy:
            cells.append(row.policy or "")
        cells.append(", ".join(dict.fromkeys(row.rules)))
        cells.append(f"{format_outcomes(row.before)} → {format_outcomes(row.after)}" if row.before else "")
        metrics = row.judgement.metrics
        cells.extend(format_comparison(metrics[name]) if name in metrics else "" for name in columns)
        cells.append((row.judgement.judged_on or "").replace("_", " "))
        cells.append(verdict_cell(row))
        table.add_row(*cells)
    console.print(table)
    for row in rows:  # the reasons once more, unwrapped, for the outcomes a reader must act on
        if row.verdict.is_regression or row.verdict.is_unverified or row.verdict is Verdict.FIXED_CRASH:
            policy = f" [{row.policy}]" if show_policy and row.policy else ""
            console.print(f"{escape(str(row.path))}{policy}: {row.verdict.value}: {escape(row.judgement.reason)}", soft_wrap=True)
    for row in rows:
        kept = row_capped_inputs(row)
        if kept:
            console.print(f"{escape(str(row.path))}: --max-samples kept {escape('; '.join(kept))}", soft_wrap=True)
    for item in comparisons:
        console.print(
            f"{escape(str(item.path))}: policy {item.candidate} against {item.baseline}: "
            f"{item.judgement.verdict.value}: {escape(item.judgement.reason)}"
        )


# ------------------------------------------------------------------------------------------------ JSON


def json_document(
    rows: Sequence[Row],
    comparisons: Sequence[PolicyComparison],
    options: RunOptions,
    settings: dict[str, Any],
    elapsed: float,
    exit_code: int,
) -> dict:
    return _finite(
        {
            "bnfix_verify": JSON_FORMAT_VERSION,
            "seeds": list(options.seeds),
            "timeout": options.timeout,
            "budget": options.budget.as_dict(),
            "budget_description": options.budget.describe(),
            "settings": settings,
            "elapsed_seconds": round(elapsed, 2),
            "exit_code": exit_code,
            "metrics": list(METRICS),
            "scripts": [
                {
                    "path": str(row.path),
                    "policy": row.policy,
                    "rules": row.rules,
                    **row.judgement.as_dict(),
                    "outcome": outcome_name(row.verdict),
                    "capped_inputs": row_capped_inputs(row),
                    "before": {"outcomes": outcome_counts(row.before), "runs": row.before},
                    "after": {"outcomes": outcome_counts(row.after), "runs": row.after},
                    **({"budgeted": _budgeted_runs(row.budgeted)} if row.budgeted else {}),
                }
                for row in rows
            ],
            "policy_comparisons": [
                {"path": str(item.path), "baseline": item.baseline, "candidate": item.candidate, **item.judgement.as_dict()}
                for item in comparisons
            ],
        }
    )


def _budgeted_runs(budgeted: tuple[list[dict], list[dict]]) -> dict:
    """The runs under the budget of a row judged at the script's own update count (BNF203)."""
    before, after = budgeted
    return {
        "before": {"outcomes": outcome_counts(before), "runs": before},
        "after": {"outcomes": outcome_counts(after), "runs": after},
    }


def outcome_name(verdict: Verdict) -> str:
    """The kind of result: "verified" (a measured verdict), "regression", "unverified" or "nothing to repair"."""
    if verdict.is_regression:
        return "regression"
    if verdict.is_unverified:
        return "unverified"
    return "nothing to repair" if verdict is Verdict.NOTHING_TO_REPAIR else "verified"


def write_json(path: Path, document: dict) -> None:
    text = json.dumps(document, indent=2, allow_nan=False) + "\n"
    if str(path) == "-":
        import sys

        sys.stdout.write(text)
    else:
        path.write_text(text, encoding="utf-8")


def _finite(value):
    """Standard JSON has no NaN or Infinity: a non-finite number becomes null (the summaries count them)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value
