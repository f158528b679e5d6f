"""`bnfix verify` on real public training scripts: stage each from the manifest, verify it with a budget, tabulate.

    python bench/verify_real_scripts.py [--manifest bench/verify_real_scripts.toml] [--mirrors DIR] [--out DIR]
                                        [--seeds 2] [--timeout 120] [--epochs 3] [--max-samples 512] [--only TEXT]
                                        [--unsafe-fixes] [--stage-only]

Each script is read from its repository at the manifest's commit (`git show`), from a bare mirror under `--mirrors`
(`owner+name/repo`, as the search tool's `fetch` leaves them) or else from a clone of github.com/owner/name made in
`--out`. It is staged alone, with the `files` the manifest names and any `generate`d data file, under `--out`
(default: a new temporary directory), never in this checkout. Then `bnfix verify SCRIPT --json ...` runs on it,
with the budget options this checkout's `verify` understands (`--epochs`, `--max-samples`; others are left out and
the table says which were applied) and `--report`. Prints the Markdown table of bench/README.md, and writes every
verify document, every HTML report and a summary (results.json) to `--out`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import use_this_checkout  # noqa: E402

use_this_checkout()

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

HERE = Path(__file__).resolve().parent
DEFAULT_MIRRORS = Path("/work/.mirror")


@dataclass
class Entry:
    repo: str
    commit: str
    path: str
    kind: str
    notes: str = ""
    files: list[str] = field(default_factory=list)
    generate: str | None = None

    @property
    def slug(self) -> str:
        return self.repo.replace("/", "+")


def load_manifest(path: Path) -> list[Entry]:
    with open(path, "rb") as handle:
        return [Entry(**item) for item in tomllib.load(handle)["script"]]


# ------------------------------------------------------------------------------------------------ staging


def git_dir(entry: Entry, mirrors: Path, cache: Path) -> Path:
    """A git directory holding the entry's commit: the fetched mirror, else a bare clone from GitHub."""
    for candidate in (mirrors / entry.slug / "repo" / ".git", mirrors / entry.slug / "repo"):
        if (candidate / "HEAD").exists() and _has_commit(candidate, entry.commit):
            return candidate
    clone = cache / f"{entry.slug}.git"
    if not clone.exists():
        subprocess.run(["git", "clone", "--bare", "--filter=blob:none", "-q", f"https://github.com/{entry.repo}.git", str(clone)], check=True)
    return clone


def _has_commit(directory: Path, commit: str) -> bool:
    return subprocess.run(["git", "--git-dir", str(directory), "cat-file", "-e", f"{commit}^{{commit}}"], capture_output=True).returncode == 0


def stage(entry: Entry, mirrors: Path, root: Path) -> Path:
    """Write the script (and its listed files) at their repository paths under root/slug; the script's path."""
    repository = git_dir(entry, mirrors, root / "clones")
    tree = root / "staged" / entry.slug
    for relative in [entry.path, *entry.files]:
        target = tree / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shown = subprocess.run(["git", "--git-dir", str(repository), "show", f"{entry.commit}:{relative}"], capture_output=True, check=True)
        target.write_bytes(shown.stdout)
    if entry.generate:
        generate(entry.generate, tree)
    return tree / entry.path


def generate(spec: str, tree: Path) -> None:
    """`csv:PATH:ROWS:FEATURES`: features ~ N(0, 1) scaled per column, label = 1 when a fixed linear score > 0."""
    kind, relative, rows, features = spec.split(":")
    if kind != "csv":
        raise ValueError(f"unknown generate kind {kind!r}")
    chooser = random.Random(0)
    weights = [chooser.uniform(-1, 1) for _ in range(int(features))]
    scales = [chooser.choice([1, 10, 100]) for _ in range(int(features))]  # raw, unscaled columns like real tables
    lines = []
    for _ in range(int(rows)):
        values = [chooser.gauss(0, 1) for _ in weights]
        label = int(sum(w * v for w, v in zip(weights, values)) > 0)
        lines.append(",".join(f"{v * s + 2 * s:.4f}" for v, s in zip(values, scales)) + f",{label}")
    target = tree / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(lines) + "\n")


# ------------------------------------------------------------------------------------------------ verifying


def budget_options(requested: dict[str, int | None]) -> tuple[list[str], list[str]]:
    """The budget flags this checkout's `verify` accepts, and those it does not (reported, not silently dropped)."""
    wide = {**os.environ, "COLUMNS": "250"}  # rich folds long option names in a narrow help table
    help_text = subprocess.run([sys.executable, "-m", "bnfix", "verify", "--help"], capture_output=True, text=True, env=wide).stdout
    accepted, missing = [], []
    for flag, value in requested.items():
        if value is None:
            continue
        if flag in help_text:
            accepted += [flag, str(value)]
        else:
            missing.append(flag)
    return accepted, missing


def findings(script: Path, unsafe_fixes: bool) -> list[str]:
    """Rule codes `bnfix check` reports on the script ("BNF404*": found, no automatic fix)."""
    options = ["--unsafe-fixes"] if unsafe_fixes else []
    done = subprocess.run([sys.executable, "-m", "bnfix", "check", "--format", "json", "--no-progress", *options, str(script)],
                          capture_output=True, text=True)
    try:
        reported = json.loads(done.stdout or "[]")
    except ValueError:
        return [f"check failed (exit {done.returncode})"]
    return list(dict.fromkeys(item["code"] + ("" if item.get("fix") else "*") for item in reported if not item.get("error")))


def document_path(out: Path, number: int, script: Path) -> Path:
    return out / "documents" / f"{number:02d}-{script.parent.name}-{script.stem}.json"


def verify(script: Path, document_path: Path, seeds: int, timeout: float, options: list[str]) -> dict:
    """`bnfix verify` on one staged script: its JSON document and, beside the documents, its HTML report."""
    out = document_path.parent.parent
    options = [*options, "--report", str(out / "reports" / document_path.stem)]
    document_path.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "bnfix", "verify", str(script), "--seeds", str(seeds), "--timeout", str(timeout),
               "--quiet", "--json", str(document_path), *options]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=out)
    elapsed = time.perf_counter() - start
    document = json.loads(document_path.read_text()) if document_path.exists() else None
    return {"command": command[1:], "exit_code": done.returncode, "seconds": round(elapsed, 1), "document": document,
            "stderr": done.stderr[-2000:]}


# ------------------------------------------------------------------------------------------------ the table


def row_cells(entry: Entry, result: dict) -> list[str]:
    source = f"{entry.repo}@{entry.commit[:7]} `{entry.path}`"
    document = result["document"]
    if document is None:
        return [source, entry.kind, "—", f"verify failed (exit {result['exit_code']})", "—", "—", "—", f"{result['seconds']:.0f} s"]
    scripts = document.get("scripts") or []
    script = scripts[0] if scripts else {}
    repaired = ", ".join(dict.fromkeys(script.get("rules") or [])) or "none"
    found = result.get("found")
    rules = f"found {', '.join(found) or 'none'}; repaired {repaired}" if found is not None else repaired
    outcome = outcome_from_runs(script)
    if isinstance(script.get("outcome"), str):  # the kind of result: verified, regression, unverified, ...
        outcome = f"{script['outcome']}: {outcome}"
    verdict = script.get("verdict", "—")
    deciding = script.get("deciding_metric") or script.get("judged_on") or "—"
    if deciding != "—":
        deciding += metric_change(script, deciding)
    reason = script.get("reason") or ""
    return [source, entry.kind, rules, outcome, f"{verdict}: {reason}" if reason else verdict, deciding,
            training_losses(script), f"{result['seconds']:.0f} s"]


def training_losses(script: dict) -> str:
    """Epoch 1 and last-epoch training loss of the last fit, mean over the original's finished runs: the evidence a
    reader needs to judge for themselves whether the model learned."""
    firsts, lasts = [], []
    for run in (script.get("before") or {}).get("runs") or []:
        fits = [fit for fit in run.get("fits") or [] if (fit.get("history") or {}).get("loss")]
        if run.get("status") == "ok" and fits:
            losses = [value for value in fits[-1]["history"]["loss"] if value is not None]
            if losses:
                firsts.append(losses[0])
                lasts.append(losses[-1])
    if not firsts:
        return "—"
    return f"{_short(sum(firsts) / len(firsts))} → {_short(sum(lasts) / len(lasts))}"


def outcome_from_runs(script: dict) -> str:
    def side(name: str) -> str:
        runs = (script.get(name) or {}).get("runs") or []
        counts: dict[str, int] = {}
        for run in runs:
            status = run.get("status", "?")
            if status == "ok" and not run.get("fits"):
                status = "ok, no fit"
            counts[status] = counts.get(status, 0) + 1
        return ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "not run"

    return f"{side('before')} → {side('after')}"


def metric_change(script: dict, name: str) -> str:
    comparison = (script.get("metrics") or {}).get(name) or {}
    before, after = comparison.get("before") or {}, comparison.get("after") or {}
    if before.get("mean") is None or after.get("mean") is None:
        return ""
    return f" ({_short(before['mean'])} → {_short(after['mean'])})"


def _short(value: float) -> str:
    return f"{value:.3g}" if math.isfinite(value) else str(value)


def markdown(rows: list[list[str]]) -> str:
    head = ["script (repo@commit path)", "kind", "rules", "outcome (before → after)", "verdict", "deciding metric",
            "original's training loss, epoch 1 → last", "time"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * (len(head) - 1) + "---:|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def table_from(out: Path, entries: list[Entry]) -> str:
    """The table of a finished run, from its results.json and verify documents (the manifest gives the kinds)."""
    kinds = {(entry.repo, entry.path): entry for entry in entries}
    rows = []
    for result in json.loads((out / "results.json").read_text()):
        entry = kinds.get((result["repo"], result["path"])) or Entry(result["repo"], result["commit"], result["path"], result["kind"])
        document = Path(result["document"])
        rows.append(row_cells(entry, {**result, "document": json.loads(document.read_text()) if document.exists() else None}))
    return markdown(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", type=Path, default=HERE / "verify_real_scripts.toml")
    parser.add_argument("--mirrors", type=Path, default=DEFAULT_MIRRORS)
    parser.add_argument("--out", type=Path, help="staging and results directory (default: a new temporary one)")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--max-samples", type=int, default=512)
    parser.add_argument("--only", action="append", help="run the entries whose repo or path contains this text (repeatable); "
                        "their results replace the same entries' in an earlier run's --out")
    parser.add_argument("--unsafe-fixes", action="store_true", help="verify the unsafe repairs too (verify is what judges them)")
    parser.add_argument("--table-from", type=Path, help="print the table of an earlier run's --out directory, run nothing")
    parser.add_argument("--stage-only", action="store_true", help="stage the scripts, print their paths, run nothing")
    args = parser.parse_args()
    if args.table_from is not None:
        print(table_from(args.table_from, load_manifest(args.manifest)))
        return
    out = (args.out or Path(tempfile.mkdtemp(prefix="bnfix-real-verify-"))).resolve()
    out.mkdir(parents=True, exist_ok=True)
    manifest = load_manifest(args.manifest)
    numbers = {(entry.repo, entry.path): number for number, entry in enumerate(manifest, 1)}
    entries = [entry for entry in manifest if not args.only or any(text in entry.repo + entry.path for text in args.only)]
    budget, unsupported = budget_options({"--epochs": args.epochs, "--max-samples": args.max_samples})
    print(f"staging and results in {out}; budget {' '.join(budget) or 'none'}"
          + (f" (not supported by this verify: {', '.join(unsupported)})" if unsupported else ""), file=sys.stderr)
    results = []
    for entry in entries:
        number = numbers[(entry.repo, entry.path)]
        script = stage(entry, args.mirrors, out)
        if args.stage_only:
            print(script)
            continue
        document = document_path(out, number, script)
        result = verify(script, document, args.seeds, args.timeout, budget + (["--unsafe-fixes"] if args.unsafe_fixes else []))
        result["found"] = findings(script, args.unsafe_fixes)
        print(" | ".join(row_cells(entry, result)), file=sys.stderr)
        recorded = {key: value for key, value in result.items() if key != "document"}
        results.append({"repo": entry.repo, "commit": entry.commit, "path": entry.path, "kind": entry.kind, "budget": budget,
                        "unsupported_budget": unsupported, "unsafe_fixes": args.unsafe_fixes, **recorded,
                        "document": str(document)})
    if args.stage_only:
        return
    summary = out / "results.json"
    earlier = json.loads(summary.read_text()) if summary.exists() else []
    replaced = {(result["repo"], result["path"]) for result in results}
    merged = [result for result in earlier if (result["repo"], result["path"]) not in replaced] + results
    merged.sort(key=lambda result: numbers.get((result["repo"], result["path"]), len(numbers)))
    summary.write_text(json.dumps(merged, indent=2) + "\n")
    print(table_from(out, manifest))


if __name__ == "__main__":
    main()
