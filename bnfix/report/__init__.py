"""Rendering results for people (text), editors (concise), machines (json), code scanning (sarif) and GitHub
Actions annotations (github); diffs for reviewers."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Callable

# (results, applied, quiet, *, palette=PLAIN, unsafe_fixes=False): the keywords style the human formats (colour, the
# `[*]` marker); the machine formats accept and ignore them.
Renderer = Callable[..., str]

FORMATS = ("text", "concise", "json", "sarif", "github")


class _Renderers(Mapping):
    """`render_<format>` of `bnfix.report.<format>`, imported when first asked for: an editor's one-file `concise`
    run (bench/ide_latency.py) never loads the SARIF or GitHub writers."""

    def __getitem__(self, name: str) -> Renderer:
        if name not in FORMATS:
            raise KeyError(name)
        return getattr(importlib.import_module(f"bnfix.report.{name}"), f"render_{name}")

    def __iter__(self) -> Iterator[str]:
        return iter(FORMATS)

    def __len__(self) -> int:
        return len(FORMATS)


RENDERERS: Mapping[str, Renderer] = _Renderers()
