"""Machine-readable findings, one object per finding (ruff's JSON shape, with bnfix's fix safety)."""

from __future__ import annotations

import json
from typing import Sequence

from bnfix.process import FileResult


def findings_as_dicts(results: Sequence[FileResult]) -> list[dict]:
    rows = []
    for result in results:
        if result.error is not None:
            rows.append(
                {
                    "filename": str(result.path),
                    "code": None,
                    "message": result.error.message,
                    "location": {"row": result.error.line, "column": result.error.column},
                    "end_location": {"row": result.error.line, "column": result.error.column},
                    "fix": None,
                    "error": True,
                }
            )
        for d in result.diagnostics:
            fix = None if d.fix_safety is None else {"applicability": d.fix_safety.value, "message": d.fix_description}
            rows.append(
                {
                    "filename": str(result.path),
                    "code": d.code,
                    "message": d.message,
                    "location": {"row": d.line, "column": d.column},
                    "end_location": {"row": d.end_line, "column": d.end_column},
                    "fix": fix,
                    "error": False,
                }
            )
    return rows


def render_json(results: Sequence[FileResult], applied: bool, quiet: bool = False) -> str:
    return json.dumps(findings_as_dicts(results), indent=2) + "\n"
