"""Machine-readable findings, one object per finding (ruff's JSON shape, with bnfix's fix safety).

In a notebook, rows are cell-relative and carry the cell's number, as ruff's do. `url` is the rule's documentation
page, as in ruff (null for a file that could not be checked).
"""

from __future__ import annotations

import json
from typing import Sequence

from bnfix.process import FileResult
from bnfix.report.rule_links import rule_url


def findings_as_dicts(results: Sequence[FileResult], docs_url: str | None = None) -> list[dict]:
    rows = []
    for result in results:
        if result.error is not None:
            rows.append(
                {
                    "filename": str(result.path),
                    "code": None,
                    "message": result.error.message,
                    "location": _row(result, result.error.line, result.error.column),
                    "end_location": _row(result, result.error.line, result.error.column),
                    "fix": None,
                    "url": None,
                    "error": True,
                    **_cell(result, result.error.line),
                }
            )
        for d in result.diagnostics:
            fix = None if d.fix_safety is None else {"applicability": d.fix_safety.value, "message": d.fix_description}
            rows.append(
                {
                    "filename": str(result.path),
                    "code": d.code,
                    "message": d.message,
                    "location": _row(result, d.line, d.column),
                    "end_location": _row(result, d.end_line, d.end_column),
                    "fix": fix,
                    "url": rule_url(d.code, docs_url),
                    "error": False,
                    **_cell(result, d.line),
                }
            )
    return rows


def _row(result: FileResult, line: int, column: int) -> dict:
    if result.notebook is not None:
        line = result.notebook.cell_location(line)[1]
    return {"row": line, "column": column}


def _cell(result: FileResult, line: int) -> dict:
    return {} if result.notebook is None else {"cell": result.notebook.cell_location(line)[0]}


def render_json(
    results: Sequence[FileResult], applied: bool, quiet: bool = False, docs_url: str | None = None, **_styling
) -> str:
    return json.dumps(findings_as_dicts(results, docs_url), indent=2) + "\n"
