"""Issue 9's IDE goal: one small file as an IDE external tool in <= 0.3 s of wall time, end to end.

    python bench/ide_latency.py [--repeat 10] [--file FILE] [--checkout DIR] [--out bench/out/ide_latency.json]

Measured, each `--repeat` times (best and median of wall and CPU time, interpreter start included):

1. floors nobody in bnfix can cut: `python -c pass` (interpreter and site), and `import libcst` plus one
   `parse_module` of the file (what any libcst-based tool pays);
2. the two editor calls the README gives: `bnfix check --format concise --no-progress FILE` with the result cache
   off (`--no-cache`), missed (emptied before each run: the file was just edited) and warm (nothing changed), and
   the stdin filter `bnfix apply - --stdin-filename FILE < FILE` (stdin is never cached);
3. the engine's own CPU on the file inside one process, imports done (`process_text`, best of `--repeat`).

FILE defaults to bench/run.py's IDE_FILE (19 lines, two findings). `--checkout DIR` measures another copy of
bnfix (say `git archive main | tar -x -C /tmp/before`), for before/after tables. Every run starts in a scratch
working directory, so `.bnfix_cache` lands there. The load average before and after is recorded: on a shared
2-core machine it decides the wall times.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import REPO, Measurement, run_measured  # noqa: E402
from run import IDE_FILE  # noqa: E402

GOAL_S = 0.3
ENGINE_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from bnfix.config import load_settings
    from bnfix.process import process_text
    from bnfix.sources.files import read_source

    path, repeat = Path(sys.argv[1]), int(sys.argv[2])
    settings = load_settings([path], {}, None)
    text = read_source(path)
    times = []
    for _ in range(repeat + 1):  # the first call resolves lazy imports and caches; it is not kept
        start = time.process_time()
        process_text(path, text, settings, True, False)
        times.append(time.process_time() - start)
    print(json.dumps(times[1:]))
    """
)


def summary(runs: list[Measurement]) -> dict:
    walls = [run.wall_s for run in runs]
    cpus = [run.cpu_s for run in runs]
    return {
        "wall_best_s": round(min(walls), 3),
        "wall_median_s": round(statistics.median(walls), 3),
        "cpu_best_s": round(min(cpus), 3),
        "cpu_median_s": round(statistics.median(cpus), 3),
        "peak_mb": round(max(run.peak_tree_mb for run in runs), 1),
        "returncodes": sorted({run.returncode for run in runs}),
    }


def measure(command: list[str], repeat: int, cwd: Path, stdin: Path | None = None, before_each=None) -> dict:
    runs = []
    for _ in range(repeat):
        if before_each is not None:
            before_each()
        run = run_measured(command, stdin, cwd=cwd)
        if run.crashed:
            raise SystemExit(f"crashed: {' '.join(command)}")
        runs.append(run)
    return summary(runs)


def engine_cpu(file: Path, repeat: int, cwd: Path) -> dict:
    output = subprocess.run([sys.executable, "-c", ENGINE_SCRIPT, str(file), str(repeat)], cwd=cwd, capture_output=True, text=True, check=True)
    times = json.loads(output.stdout)
    return {"cpu_best_s": round(min(times), 4), "cpu_median_s": round(statistics.median(times), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--file", type=Path, help="the file to check (default: bench/run.py's IDE_FILE)")
    parser.add_argument("--checkout", type=Path, default=REPO, help="the bnfix checkout to measure (default: this one)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out" / "ide_latency.json")
    args = parser.parse_args()
    checkout = args.checkout.resolve()
    # Every child runs this checkout's bnfix, whatever an editable install points at, byte-compiled as installed.
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(checkout), os.environ.get("PYTHONPATH")]))
    compileall.compile_dir(checkout / "bnfix", quiet=1)

    work = Path(tempfile.mkdtemp(prefix="bnfix-ide-"))
    file = work / "ide_example.py"
    file.write_text(args.file.read_text() if args.file else IDE_FILE)
    cache = work / ".bnfix_cache"

    def empty_cache() -> None:
        shutil.rmtree(cache, ignore_errors=True)

    python = sys.executable
    bnfix = [python, "-m", "bnfix"]
    check = [*bnfix, "check", "--format", "concise", "--no-progress", str(file)]
    report: dict = {"checkout": str(checkout), "file_lines": len(file.read_text().splitlines()), "repeat": args.repeat, "goal_s": GOAL_S}
    report["load_before"] = os.getloadavg()[0]
    parse = f"import libcst; libcst.parse_module(open({str(file)!r}).read())"
    report["floor_python"] = measure([python, "-c", "pass"], args.repeat, work)
    report["floor_libcst_parse"] = measure([python, "-c", parse], args.repeat, work)
    report["check_no_cache"] = measure([*check, "--no-cache"], args.repeat, work)
    report["check_cache_miss"] = measure(check, args.repeat, work, before_each=empty_cache)
    report["check_cache_warm"] = measure(check, args.repeat, work)  # the last miss filled the cache
    report["stdin_apply"] = measure([*bnfix, "apply", "-", "--stdin-filename", str(file)], args.repeat, work, stdin=file)
    report["engine_in_process"] = engine_cpu(file, args.repeat, work)
    report["load_after"] = os.getloadavg()[0]
    shutil.rmtree(work, ignore_errors=True)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
