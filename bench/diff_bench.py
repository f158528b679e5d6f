"""Time of the unified diff `apply --diff` prints: bnfix.report.git_diff (git's pairing) against difflib.

    python bench/diff_bench.py            # a table of best-of-5 times for typical and worst-case edits

The cases: a 2,000-line module with the edits bnfix makes (swapped layers, an inserted line, an argument added),
the same edits spread over 40 places, and an adversarial rewrite of every fourth line of a 10,000-line file.
"""

from __future__ import annotations

import difflib
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bnfix.report.git_diff import unified_hunks  # noqa: E402


def module(lines: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    body = []
    for i in range(lines):
        kind = rng.random()
        if kind < 0.15:
            body.append("\n")
        elif kind < 0.3:
            body.append(f"    x = layers.Dense({rng.randint(1, 512)})(x)\n")
        elif kind < 0.45:
            body.append("    x = layers.BatchNormalization()(x)\n")
        elif kind < 0.55:
            body.append('    x = layers.Activation("relu")(x)\n')
        else:
            body.append(f"    value_{i} = compute({i})\n")
    return body


def edited(lines: list[str], places: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    new = list(lines)
    for _ in range(places):
        i = rng.randrange(len(new) - 1)
        roll = rng.random()
        if roll < 0.4:
            new[i], new[i + 1] = new[i + 1], new[i]
        elif roll < 0.7:
            new.insert(i, "    x = layers.Activation('relu')(x)\n")
        else:
            new[i] = new[i].rstrip("\n") + "  # changed\n"
    return new


def best_of(repeat: int, function) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    base = module(2000, 1)
    big = module(10000, 2)
    cases = {
        "2,000 lines, 3 edits": (base, edited(base, 3, 3)),
        "2,000 lines, 40 edits": (base, edited(base, 40, 4)),
        "10,000 lines, every 4th line changed": (big, [l if i % 4 else "changed\n" for i, l in enumerate(big)]),
    }
    print("| case | git_diff | difflib |")
    print("|---|---:|---:|")
    for name, (old, new) in cases.items():
        ours = best_of(5, lambda: "".join(unified_hunks(old, new)))
        theirs = best_of(5, lambda: "".join(difflib.unified_diff(old, new)))
        print(f"| {name} | {ours * 1000:.1f} ms | {theirs * 1000:.1f} ms |")


if __name__ == "__main__":
    main()
