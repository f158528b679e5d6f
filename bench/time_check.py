"""Time `bnfix check` over a directory and report files/s.

    python bench/time_check.py DIR [--repeat 3] [--jobs N] [-- extra bnfix options]

Counts the files bnfix would read (the same discovery as the CLI), runs `bnfix check` `--repeat` times, and prints
the best run: wall time, files/s, CPU time and peak memory of the process tree.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import Measurement, run_measured, use_this_checkout  # noqa: E402

use_this_checkout()


def count_files(directory: Path) -> int:
    from bnfix.sources.files import CHECKED_SUFFIXES, discover

    return sum(1 for _ in discover([directory], (), CHECKED_SUFFIXES))


def time_check(directory: Path, repeat: int = 3, extra: list[str] | None = None) -> tuple[int, Measurement]:
    """The number of files, and the fastest of `repeat` runs of `bnfix check` over `directory`."""
    files = count_files(directory)
    # --no-cache: every repeat measures the work itself, not the result cache (bench/speed_real.py measures that).
    command = [sys.executable, "-m", "bnfix", "check", "--no-progress", "--no-cache", "--quiet", "--format", "concise", *(extra or []), str(directory)]
    runs = [run_measured(command) for _ in range(repeat)]
    return files, min(runs, key=lambda run: run.wall_s)


def main() -> None:
    parser = argparse.ArgumentParser(description="Time `bnfix check` over a directory.")
    parser.add_argument("directory", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("extra", nargs="*", help="further bnfix options, after --")
    args = parser.parse_args()
    extra = [*(["--jobs", str(args.jobs)] if args.jobs else []), *args.extra]
    files, best = time_check(args.directory, args.repeat, extra)
    if best.crashed or best.returncode not in (0, 1, 2):
        sys.exit(f"bnfix check crashed (exit {best.returncode})")
    print(json.dumps({"files": files, "files_per_s": round(files / best.wall_s, 1), **best.as_dict()}))


if __name__ == "__main__":
    main()
