"""`--show-fixes` after a repair: what was fixed, file by file and rule by rule, in ruff's layout.

    Fixed 2 findings:
    - pkg/model.py:
        1 × BNF101 (bn-placement)
"""

from __future__ import annotations

from collections import Counter
from typing import Sequence

from bnfix.process import FileResult
from bnfix.report.style import PLAIN, Palette
from bnfix.rules import rule_by_code


def render_fix_summary(results: Sequence[FileResult], *, palette: Palette = PLAIN) -> str:
    fixed = {result.path: Counter(d.code for d in result.fixed) for result in results if result.fixed}
    if not fixed:
        return ""
    total = sum(sum(counts.values()) for counts in fixed.values())
    width = max(len(str(n)) for counts in fixed.values() for n in counts.values())
    lines = [palette.success(f"Fixed {total} finding{'' if total == 1 else 's'}:")]
    for path in sorted(fixed, key=str):
        lines.append(f"{palette.marker('-')} {palette.path(str(path))}{palette.marker(':')}")
        for code, count in sorted(fixed[path].items(), key=lambda item: (-item[1], item[0])):
            rule = rule_by_code(code)
            lines.append(f"    {str(count).rjust(width)} × {palette.code(code)} ({rule.name if rule else code})")
    return "".join(line + "\n" for line in lines)
