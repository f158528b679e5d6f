"""BNF203 judged at the script's own update count (own_count.py), really training: a budget that cuts the 40
updates of fixtures/momentum_default_few_updates.py is lifted for a second set of runs when they fit in the time
limit, and the verdict comes from those; when they would not, the verdict says both counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from bnfix.settings import Settings
from bnfix.verify.budget import Budget
from bnfix.verify.compare import Verdict
from bnfix.verify.report import build_rows
from bnfix.verify.runner import RunOptions, plan_script, run_plans

pytestmark = pytest.mark.training

SCRIPT = Path(__file__).resolve().parents[1] / "fixtures" / "momentum_default_few_updates.py"  # 10 epochs x 4 batches


def verify_with(budget: Budget, timeout: float, script: Path = SCRIPT):
    plan = plan_script(script, Settings())
    assert [variant.fixed for variant in plan.variants] == [["BNF203"]]
    heard = []
    outcomes = run_plans([plan], RunOptions(seeds=(0, 1), timeout=timeout, budget=budget), lambda *args: heard.append(args[1:]))
    (row,) = build_rows(outcomes, budget.active)
    return outcomes[0], row, heard


def test_a_budget_that_cuts_the_updates_is_lifted_for_bnf203_when_affordable():
    outcome, row, heard = verify_with(Budget(epochs=2), timeout=120.0)
    assert outcome.own_count.budgeted == 8 and outcome.own_count.own == 40 and outcome.own_count.affordable
    # The verdict comes from runs without any budget, at the script's 40 updates: the fixture's "improved".
    assert all(run["budget"] == {"epochs": None, "steps": None, "max_samples": None} for run in row.before + row.after)
    assert [fit["updates"] for run in row.before for fit in run["fits"]] == [40, 40]
    assert row.verdict is Verdict.IMPROVED, row.judgement.reason
    assert row.judgement.updates == {"run": 40, "script": 40, "budgeted": 8}
    assert "judged at the script's own 40 updates, without the budget (after the budget's 8: " in row.judgement.reason
    # The budgeted runs stay in the row as evidence; the original ran once per seed in each set.
    budgeted_before, budgeted_after = row.budgeted
    assert [fit["updates"] for run in budgeted_before for fit in run["fits"]] == [8, 8] and len(budgeted_after) == 2
    # Progress: each version once under the budget, then once at the script's own count.
    assert sorted((version, own_count) for version, _, own_count in heard) == [
        ("original", False), ("original", True), ("post", False), ("post", True),
    ]  # fmt: skip


def test_an_unaffordable_own_count_is_not_representative_and_says_both_counts(tmp_path):
    # 50 epochs x 4 batches = 200 updates (0.99 ** 200 = 13%: still BNF203). Under a budget of 8, one run at 200
    # is expected to take 25 budgeted runs' time, at least 25 s: more than the 20 s limit.
    script = tmp_path / "fifty_epochs.py"
    script.write_text(SCRIPT.read_text().replace("epochs=10, verbose=0)", "epochs=50, verbose=0)"))
    outcome, row, _ = verify_with(Budget(epochs=2), timeout=20.0, script=script)
    assert (outcome.own_count.budgeted, outcome.own_count.own) == (8, 200)
    assert not outcome.own_count.affordable and not outcome.own_count_runs
    assert row.verdict is Verdict.NOT_REPRESENTATIVE and row.budgeted is None
    assert row.judgement.reason.startswith(
        "8 budgeted updates vs 200 in the script (one run at the script's own count would take about "
    )
    assert "s, more than the 20 s time limit); measured: " in row.judgement.reason
