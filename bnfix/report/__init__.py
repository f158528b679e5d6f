"""Rendering results for people (text), editors (concise) and machines (json); diffs for reviewers."""

from __future__ import annotations

from typing import Callable, Sequence

from bnfix.process import FileResult
from bnfix.report.concise import render_concise
from bnfix.report.json import render_json
from bnfix.report.text import render_text

Renderer = Callable[[Sequence[FileResult], bool, bool], str]  # (results, applied, quiet)

RENDERERS: dict[str, Renderer] = {
    "text": render_text,
    "concise": render_concise,
    "json": render_json,
}
