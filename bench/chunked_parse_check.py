"""Proof on real code that `StatementChunks` gives libcst's own tree: every .py file under the given roots, and
each with a few edits applied (a line inserted, a line removed, a character typed), parsed whole and chunk by chunk.

    python bench/chunked_parse_check.py /tmp/keras-tree /tmp/bnfix-real-review [--edits 3] [--positions] [--json out.json]

A file is `equal` when the joined tree `deep_equals` libcst's parse and renders the same code (and, with
`--positions`, every node's range kept per chunk is the one computed on the whole module); `whole` when the
chunks cannot be joined and the caller would parse the whole text (a correct, slower answer); a `mismatch` is a bug.
Files CPython or libcst cannot parse are skipped (the engine reports them; no tree to compare).
"""

from __future__ import annotations

import argparse
import ast
import json
import random
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

import libcst as cst

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bnfix.analysis.node_index import all_nodes  # noqa: E402
from bnfix.analysis.positions import Positions  # noqa: E402
from bnfix.engine import EditorDocument  # noqa: E402
from bnfix.settings import Settings  # noqa: E402
from bnfix.sources.statement_chunks import StatementChunks  # noqa: E402


def edits(text: str, count: int, rng: random.Random) -> list[str]:
    lines = text.splitlines(keepends=True)
    if not lines:
        return []
    versions = []
    for _ in range(count):
        at = rng.randrange(len(lines))
        kind = rng.choice(("insert", "remove", "type"))
        changed = list(lines)
        if kind == "insert":
            changed.insert(at, lines[rng.randrange(len(lines))])
        elif kind == "remove":
            del changed[at]
        else:
            line = changed[at]
            column = rng.randrange(len(line) + 1)
            changed[at] = line[:column] + rng.choice(("x", " ", "#", "(", "1")) + line[column:]
        versions.append("".join(changed))
    return versions


def positions_agree(joined: cst.Module, document: EditorDocument) -> bool:
    """Every node's range from the positions kept per chunk is the whole module's, and so is the code."""
    ctx = document.context(joined, Settings())
    nodes = all_nodes(joined)
    got, expected = ctx.positions_of(nodes), Positions(joined)
    return all(got[node] == expected[node] for node in nodes) and ctx.code == joined.code


def compare(text: str, chunks: StatementChunks, document: EditorDocument | None = None) -> str:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(text)
        whole = cst.parse_module(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError, cst.ParserSyntaxError):
        return "skipped"
    try:
        joined = chunks.parse(text, tree)
    except cst.ParserSyntaxError:
        return "mismatch"  # the whole text parsed: a chunk must too
    if joined is None:
        return "whole"
    if document is not None and not positions_agree(joined, document):
        return "mismatch"
    # Against libcst's own rendering: a few real files do not survive even a whole parse (blank lines before an
    # indented comment at the end of the file are dropped), which the engine guards against separately.
    return "equal" if joined.deep_equals(whole) and joined.code == whole.code else "mismatch"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("roots", nargs="+", type=Path)
    parser.add_argument("--edits", type=int, default=3, help="edited versions per file, parsed with the same chunk cache")
    parser.add_argument("--positions", action="store_true", help="also compare every node's range kept per chunk")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rng = random.Random(0)
    outcomes: Counter[str] = Counter()
    mismatches: list[str] = []
    started = time.perf_counter()
    for root in args.roots:
        for path in sorted(root.rglob("*.py")):
            try:
                text = path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            document = EditorDocument()
            for version, candidate in enumerate([text, *edits(text, args.edits, rng)]):
                outcome = compare(candidate, document.chunks, document if args.positions else None)
                outcomes[outcome] += 1
                if outcome == "mismatch":
                    mismatches.append(f"{path} (version {version})")
    report = {"outcomes": dict(outcomes), "mismatches": mismatches, "seconds": round(time.perf_counter() - started, 1)}
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    raise SystemExit(1 if mismatches else 0)


if __name__ == "__main__":
    main()
