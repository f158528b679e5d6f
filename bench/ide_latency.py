"""Issue 9's IDE goal: one small file as an IDE external tool in <= 0.3 s of wall time, end to end.

    python bench/ide_latency.py [--repeat 10] [--file FILE] [--checkout DIR ...] [--out bench/out/ide_latency.json]

Measured, each `--repeat` times (best and median of wall and CPU time, interpreter start included):

1. floors nobody in bnfix can cut: `python -c pass` (interpreter and site), and `import libcst` plus one
   `parse_module` of the file (what any libcst-based tool pays);
2. the two editor calls the README gives: `bnfix check --format concise --no-progress FILE` with the result cache
   off (`--no-cache`), missed (emptied before each run: the file was just edited) and warm (nothing changed), and
   the stdin filter `bnfix apply - --stdin-filename FILE < FILE` (stdin is never cached);
3. the engine's own CPU on the file inside one process, imports done (`process_text`, checking and repairing).

A Markdown table of the medians follows the JSON.

FILE defaults to bench/run.py's IDE_FILE (18 lines, three findings). `--checkout DIR`, repeated, measures
several copies of bnfix (say `git archive main | tar -x -C /tmp/before`) taking turns run by run, so that a
before/after table compares runs under the same load. Every run starts in a scratch working directory, so
`.bnfix_cache` lands there. The load average before and after is recorded: on a shared 2-core machine it decides
the wall times (CPU time is steadier).
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
    times = {"check": [], "apply": []}
    for mode, fix in (("check", False), ("apply", True)):
        for _ in range(repeat + 1):  # the first call resolves lazy imports and caches; it is not kept
            start = time.process_time()
            process_text(path, text, settings, fix, False)
            times[mode].append(time.process_time() - start)
    print(json.dumps({mode: spent[1:] for mode, spent in times.items()}))
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


def measure(commands: dict[str, list[str]], repeat: int, cwd: Path, stdin: Path | None = None, before_each=None, checkouts: bool = True) -> dict:
    """Each checkout's command `repeat` times, taking turns run by run, so that the shared machine's load drifts
    alike for every checkout (`checkouts=False`: the names are labels, and the children run bnfix-free)."""
    runs: dict[str, list[Measurement]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, command in commands.items():
            if before_each is not None:
                before_each()
            run = run_measured(command, stdin, cwd=cwd, env=_environment(name) if checkouts else None)
            if run.crashed:
                raise SystemExit(f"crashed: {' '.join(command)}")
            runs[name].append(run)
    return {name: summary(measured) for name, measured in runs.items()}


def _environment(checkout: str) -> dict[str, str]:
    """The child runs this checkout's bnfix, whatever an editable install points at."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [checkout, os.environ.get("PYTHONPATH")]))}


def engine_cpu(checkout: str, file: Path, repeat: int, cwd: Path) -> dict:
    command = [sys.executable, "-c", ENGINE_SCRIPT, str(file), str(repeat)]
    output = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=True, env=_environment(checkout))
    times = json.loads(output.stdout)
    return {f"{mode}_cpu_{kind}_s": round(pick(spent), 4) for mode, spent in times.items() for kind, pick in (("best", min), ("median", statistics.median))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--file", type=Path, help="the file to check (default: bench/run.py's IDE_FILE)")
    parser.add_argument("--checkout", type=Path, action="append", help="a bnfix checkout to measure (repeatable; default: this one)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out" / "ide_latency.json")
    args = parser.parse_args()
    checkouts = [str(path.resolve()) for path in args.checkout or [REPO]]
    for checkout in checkouts:  # byte-compiled, as an installed package is
        compileall.compile_dir(Path(checkout) / "bnfix", quiet=1)

    work = Path(tempfile.mkdtemp(prefix="bnfix-ide-"))
    file = work / "ide_example.py"
    file.write_text(args.file.read_text() if args.file else IDE_FILE)
    cache = work / ".bnfix_cache"

    def empty_cache() -> None:
        shutil.rmtree(cache, ignore_errors=True)

    def each(*command: str) -> dict[str, list[str]]:
        return dict.fromkeys(checkouts, [sys.executable, *command])

    check = ["-m", "bnfix", "check", "--format", "concise", "--no-progress", str(file)]
    parse = f"import libcst; libcst.parse_module(open({str(file)!r}).read())"
    report: dict = {"file_lines": len(file.read_text().splitlines()), "repeat": args.repeat, "goal_s": GOAL_S}
    report["load_before"] = os.getloadavg()[0]
    floors = {"floor_python": [sys.executable, "-c", "pass"], "floor_libcst_parse": [sys.executable, "-c", parse]}
    report.update(measure(floors, args.repeat, work, checkouts=False))
    report["check_no_cache"] = measure(each(*check, "--no-cache"), args.repeat, work)
    report["check_cache_miss"] = measure(each(*check), args.repeat, work, before_each=empty_cache)
    report["check_cache_warm"] = {}
    for checkout in checkouts:  # each checkout has its own run key: fill its entry, then time the hits
        run_measured([sys.executable, *check], cwd=work, env=_environment(checkout))
        report["check_cache_warm"].update(measure({checkout: [sys.executable, *check]}, args.repeat, work))
    stdin_apply = ["-m", "bnfix", "apply", "-", "--stdin-filename", str(file)]
    report["stdin_apply"] = measure(each(*stdin_apply), args.repeat, work, stdin=file)
    report["engine_in_process"] = {checkout: engine_cpu(checkout, file, args.repeat, work) for checkout in checkouts}
    report["load_after"] = os.getloadavg()[0]
    shutil.rmtree(work, ignore_errors=True)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    print(markdown_table(report, checkouts))


def markdown_table(report: dict, checkouts: list[str]) -> str:
    """Wall and CPU time per call and checkout: median (best), in seconds."""
    header = "| call | " + " | ".join(f"`{Path(checkout).name}` wall / CPU" for checkout in checkouts) + " |"
    lines = [header, "|---|" + "---:|" * len(checkouts)]
    for name in ("check_no_cache", "check_cache_miss", "check_cache_warm", "stdin_apply"):
        cells = [
            f"{m['wall_median_s']:.3f} ({m['wall_best_s']:.3f}) / {m['cpu_median_s']:.3f} ({m['cpu_best_s']:.3f})"
            for m in (report[name][checkout] for checkout in checkouts)
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for name in ("floor_python", "floor_libcst_parse"):
        m = report[name]
        lines.append(f"| {name} | {m['wall_median_s']:.3f} ({m['wall_best_s']:.3f}) / {m['cpu_median_s']:.3f} ({m['cpu_best_s']:.3f}) |")
    engine = [f"check {e['check_cpu_median_s']:.4f}, apply {e['apply_cpu_median_s']:.4f}" for e in (report["engine_in_process"][c] for c in checkouts)]
    lines.append("| engine CPU in process | " + " | ".join(engine) + " |")
    lines.append(f"\nload average {report['load_before']:.2f} before, {report['load_after']:.2f} after; {report['repeat']} runs each")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
