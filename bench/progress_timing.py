"""When does the progress bar move? The old bar advanced as results came out in path order; the new one advances
as workers finish files, in any order. One run records both clocks: when each result is yielded (ordered) and
when `on_done` hears of finished files.

    python bench/progress_timing.py DIR [--jobs 2]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from bnfix.process import process_files
from bnfix.settings import Settings
from bnfix.sources.files import CHECKED_SUFFIXES, discover


def first_reaching(times: list[tuple[float, int]], share: float, total: int) -> float:
    return next(t for t, done in times if done >= share * total)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("directory", type=Path)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    paths = list(discover([args.directory], (), CHECKED_SUFFIXES))
    start = time.perf_counter()
    told: list[tuple[float, int]] = []
    count = 0

    def on_done(n: int) -> None:
        nonlocal count
        count += n
        told.append((time.perf_counter() - start, count))

    yielded = [(time.perf_counter() - start, index + 1) for index, _ in enumerate(process_files(paths, Settings(), False, args.jobs, on_done=on_done))]
    wall = time.perf_counter() - start
    load = os.getloadavg()[0]
    print(f"{len(paths)} files, --jobs {args.jobs}, wall {wall:.2f} s, load {load:.2f}")
    print("| bar advanced by | first move | 10% | 50% | 100% |")
    print("|---|---:|---:|---:|---:|")
    for name, times in (("results in path order (before)", yielded), ("files as they finish (now)", told)):
        cells = [f"{first_reaching(times, share, len(paths)):.2f} s" for share in (1 / len(paths), 0.10, 0.50, 1.0)]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
