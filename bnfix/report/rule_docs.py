"""The rule documentation pages, generated from the rule classes: one Markdown page per rule and an index.

One source of truth, as ruff's generated rule pages are: a page is exactly what `bnfix explain CODE` prints (the
class docstring's What it does / Why is this bad? / Example / Fix safety), followed by the rule's own VALID and
INVALID examples, which tests/test_rule_examples.py runs; so a page cannot show an example that does not hold.
tests/test_rule_docs.py fails when the committed pages differ from what this module generates.

    python -m bnfix.report.rule_docs docs/rules            # write the pages
    python -m bnfix.report.rule_docs --check docs/rules    # exit 1, naming the stale pages, if any differ
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from bnfix.fixes.safety import FixSafety
from bnfix.report.rule_links import page_name
from bnfix.rules import ALL_RULES
from bnfix.rules.base import Invalid, Rule, Valid

INDEX = "README.md"
COMMAND = "python -m bnfix.report.rule_docs docs/rules"
GENERATED_NOTE = f"<!-- Generated from bnfix/rules/ by `{COMMAND}`; edit the rule class, not this file. -->\n"

_FIX_AVAILABILITY = {
    FixSafety.SAFE: "Fix is available: `bnfix apply` makes it.",
    FixSafety.UNSAFE: "Fix is unsafe: `bnfix apply --unsafe-fixes` makes it.",
    None: "Report only: there is no automatic fix.",
}
_FIX_COLUMN = {FixSafety.SAFE: "safe", FixSafety.UNSAFE: "unsafe", None: "report only"}


def explanation(rule: type[Rule]) -> str:
    """What `bnfix explain CODE` prints: the heading, the summary, whether a fix exists, then the four sections."""
    heading = f"# {rule.code} ({rule.name})\n\n{rule.summary}.\n\n{_FIX_AVAILABILITY[rule.fix_safety]}"
    return f"{heading}\n\n{rule.documentation()}\n"


def rule_page(rule: type[Rule]) -> str:
    """A rule's page: its explanation, then every example its tests run."""
    parts = [GENERATED_NOTE, "\n", explanation(rule), "\n## Tested examples\n\n"]
    parts.append(
        "Each example below is one of the rule's test cases (its `INVALID` and `VALID` lists), run as written, "
        "with the configuration shown above it.\n"
    )
    parts.append("\n### Reported\n")
    for number, example in enumerate(rule.INVALID, 1):
        parts.append(_reported(number, example))
    parts.append("\n### Left alone\n")
    for number, example in enumerate(rule.VALID, 1):
        parts.append(_left_alone(number, example))
    return "".join(parts)


def index_page() -> str:
    """docs/rules/README.md: every rule, linked to its page."""
    rows = "".join(_index_row(rule) for rule in ALL_RULES)
    return (
        f"{GENERATED_NOTE}\n# bnfix rules\n\n"
        "One page per rule: what it does, why it matters, an example, whether its fix is safe, and the examples "
        "it is tested on. `bnfix explain CODE` prints the same text.\n\n"
        "| code | name | finds | fix |\n|---|---|---|---|\n" + rows
    )


def expected_pages() -> dict[str, str]:
    """File name -> content of every page the rule catalogue gives."""
    pages = {page_name(rule.code): rule_page(rule) for rule in ALL_RULES}
    pages[INDEX] = index_page()
    return pages


def stale_pages(directory: Path) -> list[str]:
    """The pages in `directory` that differ from the generated ones, are missing, or belong to no rule."""
    expected = expected_pages()
    present = {path.name for path in directory.glob("*.md")} if directory.is_dir() else set()
    differing = [
        name for name, text in expected.items()
        if name not in present or (directory / name).read_text(encoding="utf-8") != text
    ]  # fmt: skip
    return sorted(differing + [name for name in present if name not in expected])


def write_pages(directory: Path) -> list[str]:
    """Write every page into `directory` and remove pages of rules that no longer exist; the names changed."""
    changed = stale_pages(directory)
    directory.mkdir(parents=True, exist_ok=True)
    expected = expected_pages()
    for name in changed:
        path = directory / name
        if name in expected:
            path.write_text(expected[name], encoding="utf-8", newline="\n")
        else:
            path.unlink()
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bnfix.report.rule_docs", description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, help="where the pages go (the repository's docs/rules)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if any page is out of date")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_pages(args.directory)
        for name in stale:
            sys.stderr.write(f"{args.directory / name}: out of date; run `{COMMAND}`\n")
        return 1 if stale else 0
    for name in write_pages(args.directory):
        sys.stderr.write(f"wrote {args.directory / name}\n")
    return 0


def _reported(number: int, example: Invalid) -> str:
    text = f"\n{number}.{_configuration(example.options)}\n\n{_python(example.code)}"
    if example.expected is None or example.expected == example.code:
        return text + "\n   Reported; `bnfix apply` leaves it as it is.\n"
    return text + f"\n   `bnfix apply` writes:\n\n{_python(example.expected)}"


def _left_alone(number: int, example: Valid) -> str:
    return f"\n{number}.{_configuration(example.options)}\n\n{_python(example.code)}"


def _configuration(options: dict) -> str:
    """The example's options as the `[tool.bnfix]` keys that give them."""
    if not options:
        return ""
    keys = ", ".join(f"`{key.replace('_', '-')} = {_toml(value)}`" for key, value in options.items())
    return f" With {keys}:"


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return f'"{value}"' if isinstance(value, str) else str(value)


def _python(code: str) -> str:
    """A fenced block indented under its list item (a longer fence when the code itself holds backticks)."""
    fence = "```" if "```" not in code else "````"
    body = "".join(f"   {line}" if line.strip() else "\n" for line in code.rstrip("\n").splitlines(keepends=True))
    return f"   {fence}python\n{body}\n   {fence}\n"


def _index_row(rule: type[Rule]) -> str:
    link = f"[{rule.code}]({page_name(rule.code)})"
    return f"| {link} | {rule.name} | {_cell(rule.summary)} | {_FIX_COLUMN[rule.fix_safety]} |\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


if __name__ == "__main__":  # pragma: no cover - the command line
    raise SystemExit(main())
