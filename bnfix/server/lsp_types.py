"""Findings, problems and repaired texts as LSP diagnostics, text edits and code actions.

Severity: a finding bnfix can fix is a Warning, a report-only finding (BNF204, or a finding whose fix does not
apply here) is Information, and a file bnfix cannot analyse (it does not parse) is one Error. Ranges come in
already converted to the client's position encoding.
"""

from __future__ import annotations

from lsprotocol import types

from bnfix.fixes.safety import FixSafety
from bnfix.report.rule_links import rule_url
from bnfix.server.analysis import Finding, Place, Problem

SOURCE = "bnfix"
FIX_ALL_KIND = "source.fixAll.bnfix"  # a sub-kind of source.fixAll, so "fix all on save" settings pick it up


def finding_diagnostic(finding: Finding, where: types.Range, docs_url: str | None = None) -> types.Diagnostic:
    """`docs_url` is the settings' link template; without one, the code links to the rule's installed page."""
    d = finding.diagnostic
    href = rule_url(d.code, docs_url)
    return types.Diagnostic(
        range=where,
        message=finding.message,
        severity=types.DiagnosticSeverity.Warning if d.fixable else types.DiagnosticSeverity.Information,
        code=d.code,
        code_description=types.CodeDescription(href=href) if href is not None else None,
        source=SOURCE,
        data={"fix": d.fix_safety.value if d.fix_safety else None},
    )


def problem_diagnostic(problem: Problem, where: types.Range) -> types.Diagnostic:
    return types.Diagnostic(range=where, message=problem.message, severity=types.DiagnosticSeverity.Error, source=SOURCE)


def minimal_edit(old_lines: list[str], new_lines: list[str]) -> tuple[Place, Place, str]:
    """One edit replacing only the lines that differ (code points), so the editor keeps cursors and folds elsewhere."""
    prefix = 0
    while prefix < min(len(old_lines), len(new_lines)) and old_lines[prefix] == new_lines[prefix]:
        prefix += 1
    suffix = 0
    while (
        suffix < min(len(old_lines), len(new_lines)) - prefix
        and old_lines[len(old_lines) - 1 - suffix] == new_lines[len(new_lines) - 1 - suffix]
    ):
        suffix += 1
    replaced_end = len(old_lines) - suffix
    end: Place = (replaced_end, 0)
    if replaced_end == len(old_lines) and not old_lines[-1].endswith(("\n", "\r")):
        end = (len(old_lines) - 1, len(old_lines[-1]))  # the last line has no break: end inside it
    return (prefix, 0), end, "".join(new_lines[prefix : len(new_lines) - suffix])


def quick_fix(
    finding: Finding, diagnostic: types.Diagnostic, edit: types.WorkspaceEdit | None, data: object = None
) -> types.CodeAction:
    """With `edit` None, `data` says which fix codeAction/resolve is to compute (the light bulb appears at once)."""
    d = finding.diagnostic
    safe = d.fix_safety is FixSafety.SAFE
    title = f"{d.code}: {d.fix_description or 'apply the fix'}" + ("" if safe else " (unsafe)")
    return types.CodeAction(
        title=title,
        kind=types.CodeActionKind.QuickFix,
        diagnostics=[diagnostic],
        is_preferred=safe,
        edit=edit,
        data=data,
    )


def fix_all_action(edit: types.WorkspaceEdit | None, unsafe_fixes: bool, data: object = None) -> types.CodeAction:
    title = "bnfix: fix all" + (" (including unsafe fixes)" if unsafe_fixes else "")
    return types.CodeAction(title=title, kind=FIX_ALL_KIND, edit=edit, data=data)
