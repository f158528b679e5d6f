"""Run bnfix on real code and check that it never damages it: no crash, every output parses, a second apply is a no-op.

    python bench/real_code.py SOURCE_DIR [-- --unsafe-fixes --policy pre]     # bnfix's own options after `--`

SOURCE_DIR is copied to a temporary directory (the original is never written). On the copy:
1. `bnfix check` (concise) - counts files, findings by rule, files reported as errors, and any traceback;
2. `bnfix apply` - then every changed file must still parse: a module with CPython's parser, a notebook as JSON
   whose code cells still join into a module that parses (magics masked);
3. `bnfix apply --diff` again - must print nothing: the repair is idempotent.
Prints one JSON summary line.
"""

from __future__ import annotations

import argparse
import ast
import collections
import json
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import use_this_checkout  # noqa: E402

use_this_checkout()


def bnfix(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bnfix", *args], cwd=cwd, capture_output=True, text=True)


def still_parses(path: Path) -> str | None:
    """None if the repaired file is well formed, else why not."""
    try:
        if path.suffix == ".ipynb":
            from bnfix.sources.notebooks import join_cells, read_notebook

            module = join_cells(read_notebook(path.read_text(encoding="utf-8"))).module
        else:
            module = path.read_bytes()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(module)
    except Exception as error:  # any failure here is a damaged file
        return f"{type(error).__name__}: {error}"
    return None


def snapshot(root: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in root.rglob("*") if path.is_file() and path.suffix in (".py", ".ipynb")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("options", nargs="*", help="extra bnfix options (after --)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bnfix-real-") as temporary:
        tree = Path(temporary) / args.source.name
        shutil.copytree(args.source, tree, symlinks=True)
        before = snapshot(tree)
        check = bnfix("check", "--no-progress", "--format", "concise", *args.options, ".", cwd=tree)
        findings = collections.Counter()
        errors = []
        for line in check.stdout.splitlines():
            parts = line.split(": ", 2)
            if len(parts) >= 2 and parts[1].startswith("BNF"):
                findings[parts[1].split()[0]] += 1
            elif len(parts) >= 2 and parts[1] == "error":
                errors.append(line)
        apply = bnfix("apply", "--no-progress", "--format", "concise", *args.options, ".", cwd=tree)
        after = snapshot(tree)
        changed = sorted(path for path in after if after[path] != before.get(path))
        damaged = {str(path.relative_to(tree)): why for path in changed if (why := still_parses(path))}
        again = bnfix("apply", "--diff", "--no-progress", *args.options, ".", cwd=tree)
        summary = {
            "source": str(args.source),
            "files": len(before),
            "python_files": sum(1 for path in before if path.suffix == ".py"),
            "notebooks": sum(1 for path in before if path.suffix == ".ipynb"),
            "check_exit": check.returncode,
            "findings": sum(findings.values()),
            "findings_by_rule": dict(sorted(findings.items())),
            "errors": errors,
            "crashed": any("Traceback" in run.stderr for run in (check, apply, again)),
            "apply_exit": apply.returncode,
            "files_changed": len(changed),
            "changed_files_that_no_longer_parse": damaged,
            "second_apply_changes": again.stdout.count("\n+++ "),
        }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
