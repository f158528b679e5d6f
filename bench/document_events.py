"""What the language server's worker spends on one editor document, in process (CPU seconds, no LSP around it).

    python bench/document_events.py [MODULE.py] [--repeat 3]

For a module (default: `server_bench.py`'s generated 5,000-line BN-dense one) through an `EditorDocument`: the first
check (an open), a one-line edit, the document's first quick fix (a safe fix), then fix all. Prints one JSON object
per round. `server_bench.py` measures the same through a real client; this one leaves the protocol out, so that two
checkouts can be compared taking turns (`PYTHONPATH=OTHER_CHECKOUT python bench/document_events.py`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # after PYTHONPATH: another checkout given there is the one measured

from bnfix import engine  # noqa: E402
from bnfix.fixes.safety import FixSafety  # noqa: E402
from bnfix.rules import CATALOGUE, rule_class  # noqa: E402
from bnfix.settings import Settings  # noqa: E402
from bnfix.worker_memory import tune_collector  # noqa: E402


def one_round(text: str) -> dict[str, float | int]:
    settings = Settings()
    document = engine.EditorDocument()
    clock = time.process_time
    found: dict[str, float | int] = {}
    start = clock()
    engine.check_source(text, settings, document)
    found["open"] = clock() - start
    edited = text + "#\n"
    start = clock()
    result = engine.check_source(edited, settings, document)
    found["edit"] = clock() - start
    found["findings"] = len(result.diagnostics)
    safe = next((d for d in result.diagnostics if d.fix_safety is FixSafety.SAFE), None)
    if safe is not None:
        start = clock()
        engine.fix_one(edited, settings, safe.code, safe.line, safe.column, document)
        found["quick fix"] = clock() - start
    start = clock()
    engine.fix_source(edited, settings, document)
    found["fix all"] = clock() - start
    return {name: round(value, 3) if isinstance(value, float) else value for name, value in found.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("module", type=Path, nargs="?")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.module is not None:
        text = args.module.read_text(encoding="utf-8")
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from server_bench import keras_module

        text = keras_module(5000, 0.7)
    tune_collector()  # as the server's worker does
    for entry in CATALOGUE:  # imported by need in the worker too, before its first large file
        rule_class(entry)
    engine.check_source("import keras\n", Settings(), engine.EditorDocument())
    for _ in range(args.repeat):
        print(json.dumps(one_round(text)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
