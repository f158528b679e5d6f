"""Check, on real code, that fix all through an editor's document keeps every repaired chunk as libcst would parse
its code (`StatementChunks.expect`), and gives what fix all without a document gives.

    python bench/fix_all_chunks_check.py DIR_OR_FILE...

For every .py file that mentions what a rule looks for: check, then fix all, through an `EditorDocument`, under the
default settings, `--unsafe-fixes` and `--policy pre --unsafe-fixes`; each chunk the repairs kept as parsed is
compared with libcst's parse of its code (`deep_equals`), and the result with `fix_source` without a document.
Prints one JSON object; exits 1 on any difference.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import libcst as cst

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from corpus import python_files  # noqa: E402  (bench/corpus.py, beside this script)

from bnfix import engine  # noqa: E402
from bnfix.rules import RULE_CODES, might_apply  # noqa: E402
from bnfix.settings import PlacementPolicy, Settings  # noqa: E402
from bnfix.sources.statement_chunks import StatementChunks  # noqa: E402

SETTINGS = {
    "default": Settings(),
    "unsafe": Settings(unsafe_fixes=True),
    "pre-unsafe": Settings(policy=PlacementPolicy.PRE, unsafe_fixes=True),
}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("paths", nargs="+")
    args = parser.parse_args()
    kept: list[tuple[str, cst.Module]] = []
    expect = StatementChunks.expect

    def recording_expect(self, layout, repaired):
        before = {id(parse) for _, parses in self._chunks.values() for parse in parses}
        text = expect(self, layout, repaired)
        if text is not None and text != repaired.code:
            problems.append({"file": current, "problem": "the joined text is not the repaired module's code"})
        kept.extend((code, parse) for code, (_, parses) in self._chunks.items() for parse in parses if id(parse) not in before)
        return text

    StatementChunks.expect = recording_expect  # type: ignore[method-assign]
    counts = {"files": 0, "refused": 0, "repaired_chunks_kept": 0}
    problems: list[dict] = []
    current = ""
    start = time.perf_counter()
    for path in python_files(args.paths):
        try:
            source = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if not might_apply(source, RULE_CODES):
            continue
        counts["files"] += 1
        current = str(path)
        for name, settings in SETTINGS.items():
            kept.clear()
            document = engine.EditorDocument()
            try:
                engine.check_source(source, settings, document)
                through_document = engine.fix_source(source, settings, document)
                whole = engine.fix_source(source, settings)
            except engine.SourceError:
                counts["refused"] += 1
                continue
            if through_document != whole:
                problems.append({"file": current, "settings": name, "problem": "fix all differs through a document"})
            for code, parse in kept:
                counts["repaired_chunks_kept"] += 1
                if parse.code != code or not parse.deep_equals(cst.parse_module(code)):
                    problems.append({"file": current, "settings": name, "problem": "a kept chunk is not its code's parse", "chunk": code[:200]})
    print(json.dumps({**counts, "problems": len(problems), "first_problems": problems[:20], "seconds": round(time.perf_counter() - start, 1)}, indent=2))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
