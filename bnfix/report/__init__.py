"""Rendering results for people (text), editors (concise), machines (json), code scanning (sarif) and GitHub
Actions annotations (github); diffs for reviewers."""

from __future__ import annotations

from typing import Callable

from bnfix.report.concise import render_concise
from bnfix.report.github import render_github
from bnfix.report.json import render_json
from bnfix.report.sarif import render_sarif
from bnfix.report.text import render_text

# (results, applied, quiet, *, palette=PLAIN, unsafe_fixes=False): the keywords style the human formats (colour, the
# `[*]` marker); the machine formats accept and ignore them.
Renderer = Callable[..., str]

RENDERERS: dict[str, Renderer] = {
    "text": render_text,
    "concise": render_concise,
    "json": render_json,
    "sarif": render_sarif,
    "github": render_github,
}
