"""Wall time of `bnfix verify`: each fixture on its own, then the whole `fixtures/` directory.

    python bench/verify_bench.py                    # both, 3 seeds; prints a Markdown table
    python bench/verify_bench.py --whole-only       # only `bnfix verify fixtures/`
    python bench/verify_bench.py --json bench/verify_bench.json

Goals (issue #11, on a 2-core CPU machine): each fixture <= 15 s, the whole set <= 60 s. Every invocation is a
fresh `python -m bnfix verify` subprocess, so a time includes starting the workers and importing TensorFlow in
them, as a user would see it. The load average before each run and the CPU time of the whole process tree are
recorded with each wall time: other work on the machine slows training down, so a wall time measured under load
is not comparable with one measured on an idle machine, while the CPU time mostly is.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
FIXTURE_GOAL, WHOLE_GOAL = 15.0, 60.0


def verify(paths: list[Path], seeds: int) -> dict:
    """One `bnfix verify` run: wall time, exit code, load average before it, and each script's verdict."""
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "verify.json"
        command = [sys.executable, "-m", "bnfix", "verify", *map(str, paths), "--seeds", str(seeds), "--quiet", "--json", str(report)]
        load = os.getloadavg()[0]
        cpu_before = _children_cpu()
        start = time.perf_counter()
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        cpu = _children_cpu() - cpu_before
        if not report.exists():
            raise SystemExit(f"bnfix verify failed (exit {result.returncode}):\n{result.stderr[-3000:]}")
        document = json.loads(report.read_text())
    verdicts = {Path(script["path"]).name: script["verdict"] for script in document["scripts"]}
    return {
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu, 1),
        "exit_code": result.returncode,
        "load_before": round(load, 2),
        "load_after": round(os.getloadavg()[0], 2),
        "verdicts": verdicts,
    }


def _children_cpu() -> float:
    """User + system CPU of every finished descendant (the verify process, its workers and their runs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine() -> dict:
    versions = {}
    for package in ("keras", "tensorflow", "scikit-learn"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(), **versions}


def markdown(results: dict) -> str:
    lines = []
    if results.get("fixtures"):
        lines += ["| fixture | wall time (s) | CPU time (s) | load before | verdict |", "|---|---:|---:|---:|---|"]
        for name, row in results["fixtures"].items():
            flag = "" if row["seconds"] <= FIXTURE_GOAL else " (over the 15 s goal)"
            cells = [f"`{name}`", f"{row['seconds']}{flag}", str(row["cpu_seconds"]), str(row["load_before"])]
            lines.append("| " + " | ".join(cells + [row["verdicts"].get(name, "?")]) + " |")
        lines.append("")
    whole = results.get("whole")
    if whole:
        flag = "" if whole["seconds"] <= WHOLE_GOAL else " (over the 60 s goal)"
        lines.append(
            f"`bnfix verify fixtures/` ({results['seeds']} seeds): **{whole['seconds']} s**{flag} wall, "
            f"{whole['cpu_seconds']} s CPU, exit code {whole['exit_code']}, load average {whole['load_before']} before the run."
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--whole-only", action="store_true", help="skip the per-fixture runs")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    results: dict = {"machine": machine(), "seeds": args.seeds, "fixtures": {}, "whole": None}
    if not args.whole_only:
        for script in sorted(FIXTURES.glob("*.py")):
            results["fixtures"][script.name] = verify([script], args.seeds)
            print(f"{script.name}: {results['fixtures'][script.name]['seconds']} s", file=sys.stderr)
    results["whole"] = verify([FIXTURES], args.seeds)
    print(markdown(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
