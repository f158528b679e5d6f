"""How a finding's fixability shows: ruff's `[*]` marker, and the severity level of SARIF and GitHub annotations.

`[*]` marks a finding that the repair command would fix with the options given; after `apply` nothing carries it
(a finding that could have been fixed, was). Levels: a rule that can repair what it finds reports an `error` (a
definite defect with a known repair); a report-only rule (BNF204's batch sizes) a `warning`, a judgement to review.
"""

from __future__ import annotations

from bnfix.diagnostics import Diagnostic
from bnfix.fixes.safety import FixSafety
from bnfix.rules import rule_by_code

FIX_MARKER = "[*]"


def would_fix(d: Diagnostic, unsafe_fixes: bool) -> bool:
    return d.fix_safety is FixSafety.SAFE or (d.fix_safety is FixSafety.UNSAFE and unsafe_fixes)


def shows_marker(d: Diagnostic, applied: bool, unsafe_fixes: bool) -> bool:
    return not applied and would_fix(d, unsafe_fixes)


def rule_level(rule) -> str:
    return "error" if rule.fix_safety is not None else "warning"


def level_of(code: str) -> str:
    rule = rule_by_code(code)
    return "error" if rule is None else rule_level(rule)
