"""`--statistics`: a count per rule instead of the findings, in ruff's (and flake8's) layout.

    3	BNF101	[*] bn-placement
    1	BNF204	[ ] tiny-batches

Most frequent first. `[*]` when every finding of the rule would be fixed with the options given, `[-]` when some
would, `[ ] ` when none would; the column is left out when nothing is fixable. `--format json` gives the same as a
list of objects (ruff's fields: code, name, count, fixable, fixable_count).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Sequence

from bnfix.process import FileResult
from bnfix.report.markers import would_fix
from bnfix.report.style import PLAIN, Palette
from bnfix.rules import rule_by_code


@dataclass(frozen=True)
class RuleCount:
    code: str
    name: str
    count: int
    fixable: bool  # every finding of the rule is fixable (ruff's meaning)
    fixable_count: int


def rule_counts(results: Sequence[FileResult], unsafe_fixes: bool) -> list[RuleCount]:
    findings = [d for result in results for d in result.diagnostics]
    counts = Counter(d.code for d in findings)
    fixable = Counter(d.code for d in findings if would_fix(d, unsafe_fixes))
    ordered = sorted(counts, key=lambda code: (-counts[code], code))
    return [RuleCount(code, _name(code), counts[code], fixable[code] == counts[code], fixable[code]) for code in ordered]


def _name(code: str) -> str:
    rule = rule_by_code(code)
    return rule.name if rule is not None else code


def render_statistics(results: Sequence[FileResult], *, palette: Palette = PLAIN, unsafe_fixes: bool = False) -> str:
    counts = rule_counts(results, unsafe_fixes)
    if not counts:
        return ""
    count_width = max(len(str(c.count)) for c in counts)
    code_width = max(len(c.code) for c in counts)
    any_fixable = any(c.fixable_count for c in counts)
    lines = []
    for c in counts:
        marker = ""
        if any_fixable:
            marker = f"[{palette.marker('*')}] " if c.fixable else f"[{palette.marker('-')}] " if c.fixable_count else "[ ] "
        padding = " " * (code_width - len(c.code))
        lines.append(f"{palette.paint(str(c.count).rjust(count_width), 'bold')}\t{palette.code(c.code)}{padding}\t{marker}{c.name}")
    return "".join(line + "\n" for line in lines)


def render_statistics_json(results: Sequence[FileResult], *, unsafe_fixes: bool = False) -> str:
    return json.dumps([asdict(c) for c in rule_counts(results, unsafe_fixes)], indent=2) + "\n"
