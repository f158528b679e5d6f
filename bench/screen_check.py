"""The second prefilter (`Rule.may_report` on CPython's tree) against real code: what it saves, and that it loses nothing.

    python bench/screen_check.py DIR [DIR ...]

For every .py file and notebook under the directories: the rules its bytes let through (`needles`), the rules
CPython's tree leaves (`engine.screen`), and then, for every rule screened out, the rule run for real on libcst's
tree — which must find nothing. Prints the counts, the bytes libcst no longer parses, and every miss (a miss is a
bug in a rule's `may_report`). The figures go in bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bnfix.analysis.context import ModuleContext  # noqa: E402
from bnfix.diagnostics import SourceError  # noqa: E402
from bnfix.engine import _parse, screen  # noqa: E402
from bnfix.rules import RULE_CODES, applicable_rules  # noqa: E402
from bnfix.settings import Settings  # noqa: E402
from bnfix.sources.files import CHECKED_SUFFIXES, discover, read_source  # noqa: E402
from bnfix.sources.notebooks import join_cells, read_notebook  # noqa: E402


def module_text(path: Path) -> str:
    text = read_source(path).text
    return join_cells(read_notebook(text)).module if path.suffix == ".ipynb" else text


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dirs", nargs="+", type=Path)
    args = parser.parse_args()
    settings = Settings()
    totals = {"files": 0, "prefiltered": 0, "prefiltered_bytes": 0, "screened_out": 0, "screened_out_bytes": 0,
              "rules_screened_out": 0, "misses": 0, "unreadable": 0}
    misses = []
    started = time.perf_counter()
    for path in discover(args.dirs, (), CHECKED_SUFFIXES):
        totals["files"] += 1
        try:
            source = module_text(path)
        except Exception:  # noqa: BLE001 - a bench: count it and go on
            totals["unreadable"] += 1
            continue
        rules = applicable_rules(source, RULE_CODES)
        if not rules:
            continue
        totals["prefiltered"] += 1
        totals["prefiltered_bytes"] += len(source)
        screening = screen(source, rules)
        kept, problem = screening.rules, screening.problem
        dropped = [rule for rule in rules if rule not in kept]
        if not kept:
            totals["screened_out"] += 1
            totals["screened_out_bytes"] += len(source)
        totals["rules_screened_out"] += len(dropped)
        if not dropped:
            continue
        try:
            ctx = ModuleContext(_parse(source, problem), settings)
        except SourceError:
            continue
        for rule in dropped:
            found = list(rule().check(ctx))
            if found:
                totals["misses"] += len(found)
                misses.append({"file": str(path), "rule": rule.code, "findings": len(found)})
    totals["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps({"totals": totals, "misses": misses}, indent=2))


if __name__ == "__main__":
    main()
