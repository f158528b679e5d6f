"""Where a rule's documentation page is: the link editors (LSP codeDescription), SARIF (helpUri) and JSON (url) give.

By default the page installed with bnfix, as a `file://` URI, so the link works offline and points at the
documentation of the version that produced the finding. bnfix has no published documentation site yet; a
project that hosts the pages sets `docs-url = "https://example.org/rules/{code}"` in `[tool.bnfix]` (or the
editor's `docsUrl` setting) instead.

The pages ship as package data in `bnfix/rule_pages/`, a link to the repository's `docs/rules/`: a wheel holds
the files themselves, a source checkout (an editable install) finds them through the link.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from bnfix.rules import rule_by_code

PAGES = Path(__file__).resolve().parent.parent / "rule_pages"


def page_name(code: str) -> str:
    """A rule's page, in the package and in docs/rules: `BNF101.md`."""
    return f"{code}.md"


@lru_cache(maxsize=None)  # a report asks once per finding; the installed pages do not move
def rule_page_path(code: str) -> Path | None:
    """The installed page of the rule, or None when this installation has none (say, a checkout without links)."""
    page = (PAGES / page_name(code)).resolve()
    return page if page.is_file() else None


def rule_url(code: str, docs_url: str | None = None) -> str | None:
    """The link for a rule: the `docs-url` template filled in, else the installed page's file URI, else None."""
    rule = rule_by_code(code)
    if rule is None:
        return None
    if docs_url is not None:
        return docs_url.format(code=rule.code, name=rule.name)
    page = rule_page_path(rule.code)
    return page.as_uri() if page is not None else None
