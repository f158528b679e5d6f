"""BNF203 at the script's own update count: whether the session can afford to run it there.

BNF203's repair lowers the momentum so that the moving statistics converge within the script's own number of
updates (momentum ** updates <= 0.01); judged after the fewer updates a budget leaves, its verdict says nothing
about the script as written. So when a budget cut the updates of a script whose repair includes BNF203, the
session runs the original and that repair once more per seed without any budget, if one such run is affordable:
expected to finish within the per-run time limit (`--timeout`), the expectation being the longest budgeted run's
duration x the script's own updates / the budgeted updates. That overestimates (tracing and setup do not grow with
the updates), so a run it admits finishes in time. Otherwise the verdict is "not representative" and says both
counts. Pure Python: the parent's side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from bnfix.verify.records import update_counts

UPDATE_COUNT_RULES = ("BNF203",)  # rules whose repair depends on how many updates the budget leaves


def depends_on_update_count(fixed: Sequence[str]) -> bool:
    return any(code in fixed for code in UPDATE_COUNT_RULES)


@dataclass(frozen=True)
class OwnCountDecision:
    budgeted: int  # updates one budgeted run of the original ran (the fewest over the seeds)
    own: int  # the script's own update count
    expected_seconds: float  # one run at the script's own count, estimated
    timeout: float  # the per-run time limit it was held against

    @property
    def affordable(self) -> bool:
        return self.expected_seconds <= self.timeout

    @property
    def reason(self) -> str:
        """Why the script's own count was not run, for the verdict line."""
        return (
            f"one run at the script's own count would take about {self.expected_seconds:.0f} s, "
            f"more than the {self.timeout:g} s time limit"
        )


def own_count_decision(original: Sequence[dict], repaired: Sequence[dict], timeout: float) -> OwnCountDecision | None:
    """None when there is nothing to decide: the budget did not cut the updates, a run failed (its verdict is the
    failure), or the script's own count is unknown (a generator without a length)."""
    runs = [*original, *repaired]
    if not runs or any(run.get("status") != "ok" for run in runs):
        return None
    counts = [update_counts(run) for run in original]
    ran = min((c[0] for c in counts if c[0] is not None), default=None)
    own = max((c[1] for c in counts if c[1] is not None), default=None)
    if ran is None or own is None or ran >= own:
        return None
    longest = max(float(run.get("duration") or 0.0) for run in runs)
    expected = longest * own / max(ran, 1)
    return OwnCountDecision(ran, own, expected, timeout)
