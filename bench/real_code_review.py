"""The real-code review: bnfix on public Keras code, every finding joined with a human verdict.

    python bench/real_code_review.py                      # extract, count BN sites, check, join, apply; print tables
    python bench/real_code_review.py --skip-apply         # only the findings table (a minute instead of several)
    python bench/real_code_review.py --markdown           # the same tables as Markdown, for bench/REAL_CODE.md

Fetching is done by hand, once: each repository in REPOS is brought under --mirrors (default /work/.mirror) as
`owner+name/repo` (a bare git directory, or a clone whose `.git` is inside), e.g. with the session's `fetch` tool or
`git clone --bare https://github.com/OWNER/NAME /work/.mirror/OWNER+NAME/repo`. The script then takes every .py
and .ipynb file at the recorded commit (a blob the mirror lacks, such as a large notebook left out of the
snapshot, is skipped and counted) into --work (default /tmp/bnfix-real-review; never inside this repository: the
third-party code is not ours to commit), and:

1. counts BatchNormalization sites: calls whose callee resolves to Keras's BatchNormalization, by its own small
   resolver (independent of bnfix's, so a resolution bug in bnfix cannot hide sites);
2. runs `bnfix check --format json` of this checkout on each repository: every rule under the default policy
   (`post`), then BNF101, the one rule whose findings depend on the policy, under `pre` (PASSES);
3. joins the findings with bench/real_code_judgements.json (one verdict per finding, keyed by policy, repository,
   path, cell, line, column and code) and prints a table per rule: findings, true, false, unjudged, precision;
   findings without a verdict are listed as NEW, verdicts without a finding as VANISHED, so a re-run after a rule
   changes shows exactly what moved;
4. unless --skip-apply: runs bench/real_code.py's damage check on a copy of each repository (APPLY_RUNS: safe
   fixes, all fixes, all fixes under `pre`): crashes, repaired files that no longer parse, changes made by a
   second apply.
"""

from __future__ import annotations

import argparse
import ast
import collections
import json
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from measure import use_this_checkout  # noqa: E402

use_this_checkout()

from bnfix.sources.notebooks import join_cells, read_notebook  # noqa: E402

JUDGEMENTS = HERE / "real_code_judgements.json"
# The default policy a new user gets, with every rule; then `pre` for the one rule whose findings depend on it.
PASSES = (("post", ()), ("pre", ("--select", "BNF101")))
# `apply` on a copy: safe fixes, then everything, under each policy.
APPLY_RUNS = (("--policy", "post"), ("--policy", "post", "--unsafe-fixes"), ("--policy", "pre", "--unsafe-fixes"))


@dataclass(frozen=True)
class Repo:
    name: str  # owner/name on GitHub
    commit: str
    kind: str


REPOS = (
    Repo("keras-team/keras-applications", "06fbeb0f16e1304f239b2296578d1c50b15a983a", "model zoo (keras.applications)"),
    Repo("qubvel/classification_models", "a0f006e05485a34ccf871c421279864b0ccd220b", "model zoo (ResNet/ResNeXt/SE)"),
    Repo("qubvel/segmentation_models", "5d24bbfb28af6134e25e2c0b79e7727f6c0491d0", "model zoo (U-Net/FPN/PSPNet)"),
    Repo("titu1994/DenseNet", "60b18584caf697fc0f78257c08509a0f020098ff", "model zoo (DenseNet) + training scripts"),
    Repo("raghakot/keras-resnet", "5e9bcca7e467f7baf3459d809ef16bb75e53f115", "model zoo (ResNet builder)"),
    Repo(
        "GoogleCloudPlatform/keras-idiomatic-programmer",
        "760e4a86892c5684907dc66aa96ebc3b0897f608",
        "model zoo + tutorial notebooks (workshops, book labs)",
    ),
    Repo(
        "fchollet/deep-learning-with-python-notebooks",
        "dea84a4e12cc3bb3cb61ce952a0168bca113d315",
        "tutorial notebooks (the book)",
    ),
    Repo("ageron/handson-ml2", "1e2115277b50f6c584cd668fa30e3af309a5b136", "tutorial notebooks (the book)"),
    Repo("chansoopark98/Tensorflow-Keras-GAN", "132e7ae1072153134057b52c9f2af32126a8d9de", "GAN collection"),
    Repo("Shaofanl/Keras-GAN", "96b7cdda696c53039e2882fa4d285586b2d35093", "GAN collection"),
    Repo("jjvmak/keras-gans-experiments", "dae1813956cbce017f9e5318447f65855ef981dc", "GAN experiments"),
    Repo("chen0040/keras-gan-models", "54d55d9f578741638750089352031b8d3ecf9df6", "GAN collection"),
    Repo("JS0909/Keras-ML", "11ee95e8e7a7cb3d2e1486438bc981518847a256", "small scripts (study repository)"),
    Repo("variablejun/keras4", "0eb29fa32ebf88ed410fced8a8acaf37be50360f", "small scripts (study repository)"),
    Repo("DJSull93/keras_new", "8847c0336bb2b6cdd7a1c03eced2c7548e8993fd", "small scripts (study repository)"),
)


# --- extraction ---------------------------------------------------------------------------------------------------


def git_dir(mirrors: Path, repo: Repo) -> Path:
    root = mirrors / repo.name.replace("/", "+") / "repo"
    return root / ".git" if (root / ".git").is_dir() else root


def extract(mirrors: Path, work: Path, repo: Repo) -> tuple[Path, int]:
    """Write the repository's .py/.ipynb files at its commit under `work`; returns the directory and how many
    blobs the mirror lacked."""
    source = git_dir(mirrors, repo)
    target = work / repo.name.replace("/", "+")
    listing = subprocess.run(
        ["git", "--git-dir", str(source), "ls-tree", "-r", "-z", repo.commit],
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    missing = 0
    for entry in filter(None, listing):
        meta, _, path = entry.partition(b"\t")
        name = path.decode("utf-8", "surrogateescape")
        if not name.endswith((".py", ".ipynb")) or meta.split()[1] != b"blob":
            continue
        blob = subprocess.run(["git", "--git-dir", str(source), "cat-file", "blob", meta.split()[2]], capture_output=True)
        if blob.returncode != 0:
            missing += 1
            continue
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        if not destination.exists() or destination.read_bytes() != blob.stdout:
            destination.write_bytes(blob.stdout)
    return target, missing


# --- counting BatchNormalization sites ------------------------------------------------------------------------------

_BN_NAMES = {"BatchNormalization", "BatchNormalizationV1", "BatchNormalizationV2"}
_KERAS_ROOTS = ("keras", "tensorflow", "tf_keras")


def module_source(path: Path) -> str | None:
    """A .py file's text, or a notebook's code cells joined with magics masked; None if unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
        return join_cells(read_notebook(text)).module if path.suffix == ".ipynb" else text
    except Exception:  # an unreadable file is not a site count; bnfix reports it on its own
        return None


def count_bn_sites(source: str) -> int | None:
    """Calls resolving to Keras's BatchNormalization: `X(...)` where X is imported from a Keras module (directly or
    through `from keras.layers import *`) or is `anything.BatchNormalization` (layers., KL., tf.keras.layers....)
    and the module defines no class of that name. None if the module does not parse."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    own_classes = {node.name for node in ast.walk(tree) if isinstance(node, ast.ClassDef)}
    if own_classes & _BN_NAMES:
        return 0
    imported = set()
    star_from_keras = False
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in _KERAS_ROOTS:
            for alias in node.names:
                if alias.name == "*":
                    star_from_keras = True
                elif alias.name in _BN_NAMES:
                    imported.add(alias.asname or alias.name)
    sites = 0
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        callee = node.func
        if isinstance(callee, ast.Attribute) and callee.attr in _BN_NAMES:
            sites += 1
        elif isinstance(callee, ast.Name) and (
            callee.id in imported or (star_from_keras and callee.id in _BN_NAMES)
        ):
            sites += 1
    return sites


@dataclass
class SiteCount:
    files: int = 0
    python_files: int = 0
    notebooks: int = 0
    unparsable: int = 0
    bn_sites: int = 0


def count_sites(root: Path) -> SiteCount:
    count = SiteCount()
    for path in sorted(root.rglob("*")):
        if path.suffix not in (".py", ".ipynb") or not path.is_file():
            continue
        count.files += 1
        count.python_files += path.suffix == ".py"
        count.notebooks += path.suffix == ".ipynb"
        source = module_source(path)
        sites = None if source is None else count_bn_sites(source)
        if sites is None:
            count.unparsable += 1
        else:
            count.bn_sites += sites
    return count


# --- findings and verdicts ------------------------------------------------------------------------------------------


def finding_key(policy: str, repo: str, path: str, cell: int | None, line: int, column: int, code: str) -> str:
    where = f"{line}:{column}" if cell is None else f"cell {cell}, {line}:{column}"
    return f"[{policy}] {repo} {path} {where} {code}"


def check(root: Path, repo: Repo, policy: str, options: tuple[str, ...]) -> tuple[list[dict], list[dict], bool]:
    """bnfix's findings on one repository (rows keyed as the judgements are), its parse errors, and whether it
    crashed."""
    run = subprocess.run(
        [sys.executable, "-m", "bnfix", "check", "--no-progress", "--format", "json", "--policy", policy, *options,
         "."],
        cwd=root,
        capture_output=True,
        text=True,
    )
    crashed = "Traceback" in run.stderr
    rows = json.loads(run.stdout) if run.stdout.strip() else []
    findings, errors = [], []
    for row in rows:
        path = Path(row["filename"])
        path = str((root / path).resolve().relative_to(root.resolve()) if not path.is_absolute() else path)
        entry = {
            "policy": policy,
            "repo": repo.name,
            "commit": repo.commit,
            "path": path,
            "cell": row.get("cell"),
            "line": row["location"]["row"],
            "column": row["location"]["column"],
            "code": row["code"],
            "message": row["message"],
            "fix": None if row["fix"] is None else row["fix"]["applicability"],
            "fix_message": None if row["fix"] is None else row["fix"]["message"],
        }
        if row["error"]:
            errors.append(entry)
        else:
            entry["key"] = finding_key(policy, repo.name, path, entry["cell"], entry["line"], entry["column"],
                                       entry["code"])
            findings.append(entry)
    return findings, errors, crashed


def load_judgements() -> dict[str, dict]:
    if not JUDGEMENTS.exists():
        return {}
    entries = json.loads(JUDGEMENTS.read_text(encoding="utf-8"))["judgements"]
    return {
        finding_key(e["policy"], e["repo"], e["path"], e.get("cell"), e["line"], e["column"], e["code"]): e
        for e in entries
    }


def rule_table(findings: list[dict], judgements: dict[str, dict]) -> list[dict]:
    by_rule: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for finding in findings:
        verdict = judgements.get(finding["key"], {}).get("verdict")
        tally = by_rule[f"{finding['code']} ({finding['policy']})"]
        tally["findings"] += 1
        tally["true" if verdict is True else "false" if verdict is False else "unjudged"] += 1
    table = []
    for code in sorted(by_rule):
        tally = by_rule[code]
        judged = tally["true"] + tally["false"]
        table.append(
            {
                "rule": code,
                "findings": tally["findings"],
                "true": tally["true"],
                "false": tally["false"],
                "unjudged": tally["unjudged"],
                "precision": None if judged == 0 else tally["true"] / judged,
            }
        )
    return table


# --- apply: crashes, damage, idempotence ----------------------------------------------------------------------------


def damage_check(root: Path, *options: str) -> dict:
    run = subprocess.run(
        [sys.executable, str(HERE / "real_code.py"), str(root), "--", *options],
        capture_output=True,
        text=True,
    )
    if run.returncode != 0:
        return {"crashed": True, "stderr": run.stderr[-2000:]}
    return json.loads(run.stdout)


# --- output ---------------------------------------------------------------------------------------------------------


def percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def print_tables(sites, table, false_findings, new, vanished, errors, apply_results, markdown: bool) -> None:
    sep = " | "
    if markdown:
        print("| repository | commit | kind | files (.py / .ipynb) | BN sites | missing blobs |")
        print("|---|---|---|---:|---:|---:|")
        for repo, (count, missing) in sites.items():
            print(
                f"| {repo.name} | `{repo.commit[:10]}` | {repo.kind} | "
                f"{count.python_files} / {count.notebooks} | {count.bn_sites} | {missing} |"
            )
        total = sum(count.bn_sites for count, _ in sites.values())
        print(f"| **total** | | | {sum(c.files for c, _ in sites.values())} | **{total}** | |\n")
        print("| rule | findings | true | false | unjudged | precision |")
        print("|---|---:|---:|---:|---:|---:|")
        for row in table:
            print(
                f"| {row['rule']} | {row['findings']} | {row['true']} | {row['false']} | {row['unjudged']} | "
                f"{percent(row['precision'])} |"
            )
        print()
    else:
        for repo, (count, missing) in sites.items():
            print(f"{repo.name:48} {repo.commit[:10]} files={count.files:4} bn_sites={count.bn_sites:4} "
                  f"unparsable={count.unparsable} missing_blobs={missing}")
        print(f"BN sites: {sum(count.bn_sites for count, _ in sites.values())}\n")
        print(f"{'rule':15}{'findings':>9}{'true':>6}{'false':>6}{'unjudged':>9}{'precision':>10}")
        for row in table:
            print(f"{row['rule']:15}{row['findings']:9}{row['true']:6}{row['false']:6}{row['unjudged']:9}"
                  f"{percent(row['precision']):>10}")
        print()
    print(f"false findings ({len(false_findings)}):")
    for finding, judgement in false_findings:
        print(f"- {finding['key']}: {judgement['reason']}")
    print(f"\nNEW (no verdict yet) ({len(new)}):")
    for finding in new:
        print(f"- {finding['key']} [{finding['fix']}] {finding['message']}")
    print(f"\nVANISHED (verdict without a finding) ({len(vanished)}):")
    for key, judgement in vanished:
        print(f"- {key} (was {'true' if judgement['verdict'] else 'false'})")
    print(f"\nfiles bnfix reports as errors ({len(errors)}):")
    for error in errors:
        print(f"- {error['repo']} {error['path']}:{error['line']}: {error['message']}")
    if apply_results:
        print("\napply on a copy:")
        print(sep.join(["repository", "options", "crashed", "files changed", "no longer parse", "second apply changes"]))
        for (repo, options), result in apply_results.items():
            print(sep.join([
                repo, options, str(result.get("crashed")), str(result.get("files_changed")),
                str(len(result.get("changed_files_that_no_longer_parse", {}))), str(result.get("second_apply_changes")),
            ]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirrors", type=Path, default=Path("/work/.mirror"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/bnfix-real-review"))
    parser.add_argument("--skip-apply", action="store_true")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--dump", type=Path, help="write every finding (with its verdict) to this JSON file")
    args = parser.parse_args()
    if args.work.resolve().is_relative_to(HERE.parent):
        parser.error("--work must be outside this repository: the third-party code is not committed")

    judgements = load_judgements()
    sites, findings, errors, apply_results = {}, [], [], {}
    crashed = []
    for repo in REPOS:
        root, missing = extract(args.mirrors, args.work, repo)
        sites[repo] = (count_sites(root), missing)
        for policy, options in PASSES:
            repo_findings, repo_errors, repo_crashed = check(root, repo, policy, options)
            findings += repo_findings
            errors += repo_errors if policy == PASSES[0][0] else []
            if repo_crashed:
                crashed.append(f"{repo.name} (--policy {policy})")
        if not args.skip_apply:
            for options in APPLY_RUNS:
                apply_results[(repo.name, " ".join(options))] = damage_check(root, *options)

    table = rule_table(findings, judgements)
    found = {finding["key"] for finding in findings}
    false_findings = [(f, judgements[f["key"]]) for f in findings if judgements.get(f["key"], {}).get("verdict") is False]
    new = [finding for finding in findings if finding["key"] not in judgements]
    vanished = [(key, judgement) for key, judgement in judgements.items() if key not in found]
    print_tables(sites, table, false_findings, new, vanished, errors, apply_results, args.markdown)
    if crashed:
        print(f"\nbnfix check CRASHED on: {', '.join(crashed)}")
    if args.dump:
        for finding in findings:
            finding["verdict"] = judgements.get(finding["key"], {}).get("verdict")
            finding["reason"] = judgements.get(finding["key"], {}).get("reason")
        args.dump.write_text(json.dumps(findings, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
