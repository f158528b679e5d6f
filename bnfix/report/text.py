"""The human-readable report: one line a finding (ruff's layout) and a summary of what can be fixed."""

from __future__ import annotations

from typing import Sequence

from bnfix.fixes.safety import FixSafety
from bnfix.process import FileResult
from bnfix.report.markers import FIX_MARKER, shows_marker
from bnfix.report.style import PLAIN, Palette


def painted_location(result: FileResult, line: int, column: int, palette: Palette) -> str:
    """`path:line:col` (`path:cell N:line:col` in a notebook) with the path in bold."""
    location = result.location(line, column)
    path = str(result.path)
    return palette.path(path) + location[len(path) :]


def finding_lines(result: FileResult, applied: bool, unsafe_fixes: bool, palette: Palette) -> list[str]:
    """`path:line:col: error: ...` for a file that could not be checked, `path:line:col: CODE [*] ...` a finding."""
    lines = []
    if result.error is not None:
        where = painted_location(result, result.error.line, result.error.column, palette)
        lines.append(f"{where}: {palette.error('error:')} {result.error.message}")
    for d in result.diagnostics:
        marker = f" {palette.marker(FIX_MARKER)}" if shows_marker(d, applied, unsafe_fixes) else ""
        lines.append(f"{painted_location(result, d.line, d.column, palette)}: {palette.code(d.code)}{marker} {d.message}")
    return lines


def render_text(
    results: Sequence[FileResult], applied: bool, quiet: bool = False, *, palette: Palette = PLAIN, unsafe_fixes: bool = False
) -> str:
    lines: list[str] = []
    for result in results:
        found = iter(finding_lines(result, applied, unsafe_fixes, palette))
        if result.error is not None:
            lines.append(next(found))
        for d, line in zip(result.diagnostics, found):
            lines.append(line)
            if d.fix_description:
                hidden = d.fix_safety is FixSafety.UNSAFE and not unsafe_fixes
                lines.append(f"    fix: {d.fix_description}{' (unsafe fix: needs --unsafe-fixes)' if hidden else ''}")
    if quiet:
        return "".join(line + "\n" for line in lines)
    lines.extend(summary_lines(results, applied, unsafe_fixes, palette))
    return "\n".join(lines) + "\n"


def summary_lines(results: Sequence[FileResult], applied: bool, unsafe_fixes: bool, palette: Palette) -> list[str]:
    remaining = [d for result in results for d in result.diagnostics]
    fixed = sum(len(result.fixed) for result in results)
    lines = []
    if applied and fixed:
        lines.append(f"Fixed {_count(fixed, 'finding')} ({len(remaining)} remaining).")
    elif remaining:
        lines.append(f"Found {_count(len(remaining), 'finding')}.")
    if remaining and not applied:
        safe = sum(1 for d in remaining if d.fix_safety is FixSafety.SAFE)
        unsafe = sum(1 for d in remaining if d.fix_safety is FixSafety.UNSAFE)
        if unsafe_fixes and safe + unsafe:
            lines.append(f"{palette.marker(FIX_MARKER)} {safe + unsafe} fixable with `bnfix apply --unsafe-fixes`.")
        else:
            if safe:
                lines.append(f"{palette.marker(FIX_MARKER)} {safe} fixable with `bnfix apply`.")
            if unsafe:
                lines.append(f"{_count(unsafe, 'more fix', 'more fixes')} available with `bnfix apply --unsafe-fixes`.")
    if results and not remaining and not fixed and not any(r.error for r in results):  # none checked: none passed
        lines.append(palette.success("All checks passed."))
    return lines


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"
