"""SARIF 2.1.0 for code-scanning UIs, with each repair carried as a SARIF `fix` a UI can offer.

The repair of a file is computed once, as a whole (fixes run to a fixed point and may depend on each other), then
cut into text edits; each edit is given to one finding: the fixable finding whose lines it touches (safe fixes
first), else the nearest fixable one. So every edit is offered exactly once, and applying all of a file's fixes
gives exactly what `bnfix apply` writes. After `apply` the file is already repaired: results carry no fixes.
Columns count Unicode code points (`columnKind`). Levels as in report/markers.py: `error` for a
rule with a repair, `warning` for a report-only one. In a notebook, regions are lines of the .ipynb file and the
message names the cell; a notebook's fixes replace text in its JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence
from urllib.parse import quote

from bnfix import __version__
from bnfix.diagnostics import Diagnostic
from bnfix.process import FileResult
from bnfix.report.edits import TextEdit, text_edits
from bnfix.report.markers import rule_level
from bnfix.report.rule_links import rule_url
from bnfix.rules import ALL_RULES
from bnfix.fixes.safety import FixSafety

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def render_sarif(
    results: Sequence[FileResult], applied: bool, quiet: bool = False, docs_url: str | None = None, **_styling
) -> str:
    """`docs_url`: the settings' link template for each rule's `helpUri` (default: the installed rule page)."""
    rule_index = {rule.code: index for index, rule in enumerate(ALL_RULES)}
    sarif_results = []
    notifications = []
    for result in results:
        uri = artifact_uri(result.path)
        if result.error is not None:
            notifications.append(_notification(result, uri))
        fixes = {} if applied else _fixes_by_finding(result, uri)
        for position, diagnostic in enumerate(result.diagnostics):
            sarif_results.append(_result(result, diagnostic, uri, rule_index, fixes.get(position)))
    run = {
        "tool": {"driver": _driver(docs_url)},
        "columnKind": "unicodeCodePoints",
        "invocations": [{"executionSuccessful": not notifications, "toolExecutionNotifications": notifications}],
        "results": sarif_results,
    }
    log = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


def artifact_uri(path: Path) -> str:
    """A relative path stays a relative URI reference (resolved against the checkout); an absolute one is a file URI."""
    return path.as_uri() if path.is_absolute() else quote(path.as_posix())


def _driver(docs_url: str | None) -> dict:
    rules = []
    for rule in ALL_RULES:
        descriptor = {
            "id": rule.code,
            "name": rule.name,
            "shortDescription": {"text": rule.summary},
            "fullDescription": {"text": rule.documentation() or rule.summary},
            "help": {"text": rule.documentation() or rule.summary},
            "defaultConfiguration": {"level": rule_level(rule)},
            "properties": {"fixSafety": rule.fix_safety.value if rule.fix_safety else "none"},
        }
        help_uri = rule_url(rule.code, docs_url)  # ruff's helpUri: the rule's documentation page
        if help_uri is not None:
            descriptor["helpUri"] = help_uri
        rules.append(descriptor)
    return {"name": "bnfix", "version": __version__, "rules": rules}


def _result(result: FileResult, d: Diagnostic, uri: str, rule_index: dict, fix: dict | None) -> dict:
    message = d.message
    if result.notebook is not None:
        cell, line = result.notebook.cell_location(d.line)
        message = f"cell {cell}, line {line}: {message}"
    entry = {
        "ruleId": d.code,
        "ruleIndex": rule_index[d.code],
        "level": rule_level(ALL_RULES[rule_index[d.code]]),
        "message": {"text": message},
        "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri}, "region": _region(result, d)}}],
    }
    if fix is not None:
        entry["fixes"] = [fix]
    return entry


def _region(result: FileResult, d: Diagnostic) -> dict:
    if result.notebook is not None:  # a notebook's columns are columns of its JSON, which findings do not know
        return {"startLine": result.file_line(d.line), "endLine": result.file_line(d.end_line)}
    return {"startLine": d.line, "startColumn": d.column, "endLine": d.end_line, "endColumn": d.end_column}


def _notification(result: FileResult, uri: str) -> dict:
    error = result.error
    region = {"startLine": result.file_line(error.line)}
    if result.notebook is None:
        region["startColumn"] = error.column
    return {
        "level": "error",
        "message": {"text": error.message},
        "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri}, "region": region}}],
    }


def _fixes_by_finding(result: FileResult, uri: str) -> dict[int, dict]:
    if not result.changed:
        return {}
    fixable = [(i, d) for i, d in enumerate(result.diagnostics) if d.fix_safety is not None]
    if not fixable:
        return {}
    edits_by_finding: dict[int, list[TextEdit]] = {}
    for edit in text_edits(result.original, result.source):
        owner = _owner(result, edit, fixable)
        edits_by_finding.setdefault(owner, []).append(edit)
    fixes = {}
    for position, edits in edits_by_finding.items():
        d = result.diagnostics[position]
        change = {"artifactLocation": {"uri": uri}, "replacements": [_replacement(edit) for edit in edits]}
        fixes[position] = {"description": {"text": d.fix_description or d.message}, "artifactChanges": [change]}
    return fixes


def _owner(result: FileResult, edit: TextEdit, fixable: list[tuple[int, Diagnostic]]) -> int:
    first, last = edit.touched_lines

    def distance(d: Diagnostic) -> int:
        start, end = result.file_line(d.line), result.file_line(d.end_line)
        return 0 if start <= last and first <= end else min(abs(start - last), abs(first - end))

    def preference(item: tuple[int, Diagnostic]) -> tuple[int, int, int]:
        position, d = item
        return distance(d), d.fix_safety is not FixSafety.SAFE, position

    return min(fixable, key=preference)[0]


def _replacement(edit: TextEdit) -> dict:
    region = {
        "startLine": edit.start_line,
        "startColumn": edit.start_column,
        "endLine": edit.end_line,
        "endColumn": edit.end_column,
    }
    replacement: dict = {"deletedRegion": region}
    if edit.new_text:
        replacement["insertedContent"] = {"text": edit.new_text}
    return replacement
