"""Write a ~5,000-line module of real Keras code: the files of the given trees with the most findings, one after the
other, for `server_bench.py --file` (the generated module of `server_bench.py` is BN-dense but regular; real model
code reaches analyses it does not: weight loading, module-level functional chains, helper blocks).

    python bench/real_module.py /tmp/bnfix-real-review /tmp/real16 /tmp/real16c --out /tmp/real_dense.py

Only files an editor's document joins from chunks are taken (4-space indentation throughout, `\\n` line ends), as a
single real file of that size would be; the sources taken are listed on stderr. Nothing is copied anywhere else.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

import libcst as cst

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from corpus import python_files  # noqa: E402  (bench/corpus.py, beside this script)

from bnfix import engine  # noqa: E402
from bnfix.rules import RULE_CODES, might_apply  # noqa: E402
from bnfix.settings import Settings  # noqa: E402
from bnfix.sources.statement_chunks import StatementChunks  # noqa: E402


def candidates(paths: list[str]) -> list[tuple[int, Path, str]]:
    """(findings, path, text) of every file that mentions what a rule looks for and joins from chunks."""
    found = []
    for path in python_files(paths):
        try:
            text = path.read_text(encoding="utf-8")
            tree = ast.parse(text)
        except (UnicodeDecodeError, SyntaxError, ValueError):
            continue
        if "\r" in text or not might_apply(text, RULE_CODES):
            continue
        try:
            joined = StatementChunks().parse(text, tree)
        except (cst.ParserSyntaxError, RecursionError):
            continue
        if joined is None or joined.default_indent != "    ":
            continue
        try:
            findings = len(engine.check_source(text, Settings()).diagnostics)
        except engine.SourceError:
            continue
        if findings:
            found.append((findings, path, text))
    return sorted(found, key=lambda entry: (-entry[0], str(entry[1])))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--lines", type=int, default=5000)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    parts: list[str] = []
    lines = 0
    for findings, path, text in candidates(args.paths):
        size = text.count("\n") + 2
        if lines + size > args.lines * 1.04:
            continue
        parts.append(text if text.endswith("\n") else text + "\n")
        lines += size
        print(f"{findings:4d} findings  {path}", file=sys.stderr)
        if lines > args.lines * 0.98:
            break
    module = "\n\n".join(parts)
    args.out.write_text(module, encoding="utf-8")
    print(f"{len(parts)} files, {module.count(chr(10))} lines -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
