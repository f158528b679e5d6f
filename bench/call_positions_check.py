"""Compare, on real code, every call and argument CPython's tree places (analysis/call_positions.py) with where the
generated code places it (analysis/positions.py).

    python bench/call_positions_check.py DIR_OR_FILE... [--limit-mb 2]

Prints one JSON object: files read, files whose two trees disagreed (nothing placed from CPython's tree there),
nodes placed and left to the generated code, and every mismatch (there should be none).
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
import time
from pathlib import Path

import libcst as cst

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from corpus import python_files  # noqa: E402  (bench/corpus.py, beside this script)

from bnfix.analysis.call_positions import CallPositions  # noqa: E402
from bnfix.analysis.node_index import NodeIndex  # noqa: E402
from bnfix.analysis.positions import Positions  # noqa: E402
from bnfix.analysis.syntax_facts import SyntaxFacts  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--limit-mb", type=float, default=2.0, help="skip files larger than this")
    args = parser.parse_args()
    counts = {"files": 0, "unreadable": 0, "no_call_placed": 0, "placed": 0, "left_to_codegen": 0}
    mismatches: list[dict] = []
    start = time.perf_counter()
    for path in python_files(args.paths):
        if path.stat().st_size > args.limit_mb * 1_000_000:
            continue
        try:
            source = path.read_text(encoding="utf-8")
            tree = ast.parse(source)
            module = cst.parse_module(source)
        except (UnicodeDecodeError, SyntaxError, ValueError, cst.ParserSyntaxError, RecursionError):
            counts["unreadable"] += 1
            continue
        counts["files"] += 1
        index = NodeIndex(module)
        facts = SyntaxFacts(tree)
        placed = CallPositions(source, facts.calls, facts.fstrings, index)
        nodes = [node for call in index.calls for node in (call, *call.args)]
        if index.calls and not placed.placed_calls:
            counts["no_call_placed"] += 1
        generated = Positions(module) if nodes else None
        for node in nodes:
            where = placed.range_of(node)
            if where is None:
                counts["left_to_codegen"] += 1
                continue
            counts["placed"] += 1
            if where != generated[node]:
                mismatches.append({"file": str(path), "node": cst.Module([]).code_for_node(node)[:120], "placed": str(where), "generated": str(generated[node])})
    print(json.dumps({**counts, "mismatches": len(mismatches), "first_mismatches": mismatches[:20], "seconds": round(time.perf_counter() - start, 1)}, indent=2))
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
