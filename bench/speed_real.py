"""Issue 9's figures on a real-code tree, all in one run: bnfix against the parse-everything floor, cold and warm.

    python bench/speed_real.py TREE [--repeat 3] [--ide-runs 15] [--skip-fixit] [--out bench/out/speed_real.json]

TREE is any directory of real code, fetched beforehand to /tmp (bench/README.md says which snapshot). Measured:

1. floor: one process reads every file and libcst-parses it, nothing else (bench/run.py's FLOOR_SCRIPT);
2. `bnfix check` cold (the result cache emptied before each run), warm (cache full, nothing changed), and with
   `--no-cache`; `bnfix apply --diff` cold; each with the peak memory of the whole process tree;
3. one small file as an IDE external tool: `check --format concise FILE` and stdin `apply` (cold: --no-cache),
   wall and CPU, best and median (bench/ide_latency.py measures these alone, against other checkouts);
4. Fixit with one trivial rule and ruff with one rule over the same tree, as ratios to the floor.

Every command runs with a scratch working directory, so the cache (.bnfix_cache in the working directory when no
[tool.bnfix] is found) never lands in TREE. The fastest of `--repeat` runs is kept; the load average is recorded.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ide_latency import summary as ide_summary  # noqa: E402
from measure import Measurement, run_measured, use_this_checkout  # noqa: E402
from run import FLOOR_SCRIPT, IDE_FILE  # noqa: E402
from time_check import count_files  # noqa: E402

use_this_checkout()

GOALS = {"check_cold": 0.35, "check_warm": 0.05, "apply_diff_cold": 1.0}
PEAK_MB_GOAL = 250
IDE_GOAL_S = 0.3
FIXIT_RULE = "fixit.rules.no_inherit_from_object"
RUFF_RULE = "E711"


def best(command: list[str], repeat: int, cwd: Path, before_each=None, stdin: Path | None = None) -> Measurement:
    runs = []
    for _ in range(repeat):
        if before_each is not None:
            before_each()
        run = run_measured(command, stdin, cwd=cwd)
        if run.crashed:
            raise SystemExit(f"crashed: {' '.join(command)}")
        runs.append(run)
    return min(runs, key=lambda run: run.wall_s)


def bnfix(*args: str) -> list[str]:
    return [sys.executable, "-m", "bnfix", *args]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tree", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--ide-runs", type=int, default=15)
    parser.add_argument("--skip-fixit", action="store_true", help="Fixit takes minutes on a large tree")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out" / "speed_real.json")
    args = parser.parse_args()
    tree = args.tree.resolve()

    import bnfix as package

    compileall.compile_dir(Path(package.__file__).parent, quiet=1)
    work = Path(tempfile.mkdtemp(prefix="bnfix-speed-"))
    cache = work / ".bnfix_cache"

    def empty_cache() -> None:
        shutil.rmtree(cache, ignore_errors=True)

    report: dict = {"tree": str(tree), "files": count_files(tree), "cpus": os.cpu_count(), "load_before": os.getloadavg()[0]}
    check = bnfix("check", "--no-progress", "-q", "--format", "concise", str(tree))
    runs: dict[str, Measurement] = {
        "floor_parse_all": best([sys.executable, "-c", FLOOR_SCRIPT, str(tree)], args.repeat, work),
        "check_cold": best(check, args.repeat, work, empty_cache),
    }
    runs["check_warm"] = best(check, args.repeat, work)  # the last cold run filled the cache
    runs["check_no_cache"] = best([*check, "--no-cache"], args.repeat, work)
    runs["check_jobs_1_no_cache"] = best([*check, "--no-cache", "--jobs", "1"], 1, work)
    runs["apply_diff_cold"] = best(bnfix("apply", "--diff", "--no-progress", str(tree)), args.repeat, work, empty_cache)
    runs["ruff_one_rule"] = best(["ruff", "check", "--isolated", "--no-cache", "--select", RUFF_RULE, "--quiet", str(tree)], args.repeat, work)
    if not args.skip_fixit:
        runs["fixit_one_rule"] = best(["fixit", "--rules", FIXIT_RULE, "lint", str(tree)], 1, work)
    floor = runs["floor_parse_all"]
    for name, run in runs.items():
        report[name] = {**run.as_dict(), "vs_floor": round(run.wall_s / floor.wall_s, 3)}
    report["goals"] = {
        **{name: {"goal_vs_floor": goal, "met": report[name]["vs_floor"] <= goal} for name, goal in GOALS.items()},
        "peak_tree_mb": {
            "goal": PEAK_MB_GOAL,
            "worst": max(runs[name].peak_tree_mb for name in ("check_cold", "check_warm", "apply_diff_cold")),
        },
    }
    report["goals"]["peak_tree_mb"]["met"] = report["goals"]["peak_tree_mb"]["worst"] <= PEAK_MB_GOAL

    ide_file = work / "ide_example.py"
    ide_file.write_text(IDE_FILE)
    for name, command, stdin in (
        ("ide_check_concise_cold", bnfix("check", "--format", "concise", "--no-progress", "--no-cache", str(ide_file)), None),
        ("ide_check_concise_warm", bnfix("check", "--format", "concise", "--no-progress", str(ide_file)), None),
        ("ide_stdin_apply", bnfix("apply", "-", "--stdin-filename", str(ide_file), "--format", "concise"), ide_file),
    ):
        runs = [run_measured(command, stdin, cwd=work) for _ in range(args.ide_runs)]
        report[name] = {**ide_summary(runs), "goal_s": IDE_GOAL_S}
    report["load_after"] = os.getloadavg()[0]
    shutil.rmtree(work, ignore_errors=True)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
