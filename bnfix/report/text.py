"""The human-readable report: one line a finding (ruff's layout) and a summary of what can be fixed."""

from __future__ import annotations

from typing import Sequence

from bnfix.fixes.fix import FixSafety
from bnfix.process import FileResult


def render_text(results: Sequence[FileResult], applied: bool, quiet: bool = False) -> str:
    lines: list[str] = []
    remaining = [d for result in results for d in result.diagnostics]
    for result in results:
        if result.error is not None:
            lines.append(f"{result.location(result.error.line, result.error.column)}: error: {result.error.message}")
        for d in result.diagnostics:
            marker = " [*]" if d.fix_safety is FixSafety.SAFE else ""
            lines.append(f"{result.location(d.line, d.column)}: {d.code}{marker} {d.message}")
            if d.fix_description:
                unsafe = " (unsafe fix: needs --unsafe-fixes)" if d.fix_safety is FixSafety.UNSAFE else ""
                lines.append(f"    fix: {d.fix_description}{unsafe}")
    fixed = sum(len(result.fixed) for result in results)
    if quiet:
        return "".join(line + "\n" for line in lines)
    if applied and fixed:
        lines.append(f"Fixed {_count(fixed, 'finding')} ({len(remaining)} remaining).")
    elif remaining:
        lines.append(f"Found {_count(len(remaining), 'finding')}.")
    if remaining and not applied:
        safe = sum(1 for d in remaining if d.fix_safety is FixSafety.SAFE)
        unsafe = sum(1 for d in remaining if d.fix_safety is FixSafety.UNSAFE)
        if safe:
            lines.append(f"[*] {safe} fixable with `bnfix apply`.")
        if unsafe:
            lines.append(f"{_count(unsafe, 'more fix', 'more fixes')} available with `bnfix apply --unsafe-fixes`.")
    if not remaining and not fixed and not any(r.error for r in results):
        lines.append("All checks passed.")
    return "\n".join(lines) + "\n"


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"
