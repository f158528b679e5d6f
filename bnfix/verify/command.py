"""`bnfix verify SCRIPT|DIR...`: repair like `apply`, retrain both versions, compare, report.

Exit codes, the first that applies: 3 when a repaired script is worse or newly crashes; 2 when the arguments or
configuration are wrong or a script could not be run at all (parse error, staging or the harness failed);
4 when a repair could not be verified (not verified: both versions fail for the same reason; still crashes;
timed out; not measured; model did not learn; not representative of the script's own update count);
otherwise 0 (improved, no significant change, fixed crash, nothing to repair).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable, List, Optional

import typer

from bnfix.config import ConfigError, load_settings, parse_keras_version, parse_policy
from bnfix.settings import PlacementPolicy, Settings
from bnfix.verify.compare import Verdict

# The runner (and through it libcst) is imported when a command runs, not when `bnfix --help` builds the CLI.

EXIT_OK, EXIT_ERROR, EXIT_REGRESSION, EXIT_UNVERIFIED = 0, 2, 3, 4
DEFAULT_PATHS = [Path("fixtures")]


def _split(values: Optional[List[str]], upper: bool = True) -> Optional[tuple[str, ...]]:
    if not values:
        return None
    parts = (part.strip() for value in values for part in value.split(","))
    return tuple(part.upper() if upper else part for part in parts if part)


def settings_for(paths: list[Path], policy, select, ignore, exclude, unsafe_fixes, keras_version) -> Settings:
    overrides = {
        "policy": parse_policy(policy) if policy else None,
        "select": _split(select),
        "ignore": _split(ignore),
        "exclude": _split(exclude, upper=False),
        "unsafe_fixes": unsafe_fixes,
        "keras_version": parse_keras_version(keras_version) if keras_version else None,
    }
    return load_settings(paths, overrides)


def discover_scripts(paths: list[Path], settings: Settings) -> list[Path]:
    from bnfix.sources.files import discover

    return list(discover(paths, settings.exclude))


def verify(
    paths: Optional[List[Path]] = typer.Argument(None, help="Scripts or directories to verify (default: fixtures/)."),
    seeds: int = typer.Option(3, "--seeds", min=1, help="Runs per version, each with its own seed; verdicts need 2 or more."),
    first_seed: int = typer.Option(0, "--seed", help="The first seed; runs use seed, seed+1, ..."),
    timeout: float = typer.Option(300.0, "--timeout", min=1.0, help="Seconds one run of one script may take."),
    policy: Optional[str] = typer.Option(None, "--policy", help="BN placement for the repair: post, pre or keep."),
    compare_policies: bool = typer.Option(False, "--compare-policies", help="Retrain the post, pre and keep repairs side by side."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Write every number to this JSON file ('-' for stdout)."),
    report_dir: Optional[Path] = typer.Option(None, "--report", help="Write a self-contained HTML report with plots to this directory."),
    select: Optional[List[str]] = typer.Option(None, "--select", help="Comma-separated rule codes or prefixes to run."),
    ignore: Optional[List[str]] = typer.Option(None, "--ignore", help="Comma-separated rule codes or prefixes to skip."),
    exclude: Optional[List[str]] = typer.Option(None, "--exclude", help="Comma-separated gitignore-style patterns to skip."),
    unsafe_fixes: Optional[bool] = typer.Option(None, "--unsafe-fixes/--no-unsafe-fixes", help="Also apply fixes that may change behaviour."),
    keras_version: Optional[str] = typer.Option(None, "--keras-version", help="Target Keras version (e.g. 3.14)."),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", min=1, help="Worker processes (default: 2, or 1 on a single core)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="Budget: at most N epochs per fit, in both versions."),
    steps: Optional[int] = typer.Option(None, "--steps", min=1, help="Budget: at most N steps per epoch (steps_per_epoch)."),
    max_samples: Optional[int] = typer.Option(
        None, "--max-samples", min=1,
        help="Budget: the same fixed N rows of every array passed to fit/evaluate/predict; of a dataset or generator, its first batches.",
    ),
    max_copy_mb: float = typer.Option(200.0, "--max-copy-mb", min=0.0, help="Most megabytes of small files copied per run (large ones are linked)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress lines."),
) -> None:
    """Retrain the original and the repaired version of each script, compare them, and report."""
    paths = list(paths or DEFAULT_PATHS)
    missing = [path for path in paths if not path.exists()]
    if missing:
        typer.echo(f"error: no such file or directory: {missing[0]}", err=True)
        raise typer.Exit(EXIT_ERROR)
    try:
        settings = settings_for(paths, policy, select, ignore, exclude, unsafe_fixes, keras_version)
    except ConfigError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_ERROR) from None
    from bnfix.verify import MISSING_KERAS, keras_installed

    if not keras_installed():
        typer.echo(f"error: {MISSING_KERAS}", err=True)
        raise typer.Exit(EXIT_ERROR)
    if report_dir is not None:
        from bnfix.verify.plots import matplotlib_available

        if not matplotlib_available():
            typer.echo("error: --report draws its plots with matplotlib: pip install 'bnfix[report]'", err=True)
            raise typer.Exit(EXIT_ERROR)
    scripts = discover_scripts(paths, settings)
    if not scripts:
        typer.echo(f"error: no Python scripts under {', '.join(map(str, paths))}", err=True)
        raise typer.Exit(EXIT_ERROR)
    from bnfix.verify.budget import Budget
    from bnfix.verify.runner import RunOptions, default_jobs, seeds_from

    options = RunOptions(
        seeds=seeds_from(seeds, first_seed),
        timeout=timeout,
        jobs=jobs or default_jobs(),
        max_copy_bytes=int(max_copy_mb * 1024 * 1024),
        budget=Budget(epochs, steps, max_samples),
        invocation_dir=Path.cwd(),
    )
    code = run_verify(
        scripts, settings, options, compare_policies=compare_policies, json_path=json_path, report_dir=report_dir, quiet=quiet
    )
    raise typer.Exit(code)


def run_verify(
    scripts: list[Path],
    settings: Settings,
    options,
    *,
    compare_policies: bool = False,
    json_path: Path | None = None,
    report_dir: Path | None = None,
    quiet: bool = False,
) -> int:
    """Plan, run, print the table (and write the JSON); the exit code. `options` is a runner.RunOptions."""
    from rich.console import Console

    from bnfix.verify.report import build_rows, compare_policies as policy_comparisons, json_document, render_table, write_json
    from bnfix.verify.runner import ScriptPlan, plan_script, run_plans

    start = time.perf_counter()
    policies = list(PlacementPolicy) if compare_policies else None
    plans = [plan_script(path, settings, policies) for path in scripts]
    errors = Console(stderr=True, highlight=False)
    to_run = sum(1 + len({v.source for v in plan.variants}) for plan in plans if plan.variants and not plan.error)
    if not quiet and to_run:
        errors.print(f"bnfix verify: {to_run} script versions x {len(options.seeds)} seeds on {options.jobs} worker(s)")

    def progress(plan: ScriptPlan, name: str, seconds: float, own_count: bool) -> None:
        if not quiet:
            version = name if name == "original" else f"repaired, policy {name}"
            where = ", at the script's own update count (BNF203)" if own_count else ""
            errors.print(f"  ran {plan.path} ({version}{where}) in {seconds:.1f} s")

    outcomes = run_plans(plans, options, progress)
    rows = build_rows(outcomes, options.budget.active)
    comparisons = policy_comparisons(outcomes) if compare_policies else []
    code = exit_code(row.verdict for row in rows)
    # With `--json -`, stdout carries the JSON alone and the table goes to stderr.
    to_stderr = json_path is not None and str(json_path) == "-"
    console = Console(stderr=to_stderr, highlight=False, width=None if (sys.stderr if to_stderr else sys.stdout).isatty() else 200)
    render_table(rows, comparisons, console, show_policy=compare_policies, budget=options.budget.describe())
    elapsed = time.perf_counter() - start
    if not quiet:
        errors.print(f"verified {len(scripts)} script(s) in {elapsed:.1f} s")
    if json_path is not None or report_dir is not None:
        described = {
            "policy": settings.policy.value,
            "select": list(settings.select),
            "ignore": list(settings.ignore),
            "unsafe_fixes": settings.unsafe_fixes,
            "compare_policies": compare_policies,
        }
        document = json_document(rows, comparisons, options, described, elapsed, code)
        if json_path is not None:
            write_json(json_path, document)
        if report_dir is not None:
            from bnfix.verify.html_report import write_report

            page = write_report(document, report_dir)
            if not quiet:
                errors.print(f"report written to {page}")
    return code


def exit_code(verdicts) -> int:
    verdicts = list(verdicts)
    if any(verdict.is_regression for verdict in verdicts):
        return EXIT_REGRESSION
    if any(verdict is Verdict.ERROR for verdict in verdicts):
        return EXIT_ERROR
    if any(verdict.is_unverified for verdict in verdicts):
        return EXIT_UNVERIFIED
    return EXIT_OK


def verify_repairs(
    paths: list[Path],
    settings_of: Callable[[Path], Settings],
    *,
    seeds: int = 3,
    timeout: float = 300.0,
    jobs: int | None = None,
    epochs: int | None = None,
    steps: int | None = None,
    max_samples: int | None = None,
    keep_unverified: bool = False,
) -> dict[Path, tuple[bool, str]]:
    """For `bnfix apply --verify`: per file, (write the repair?, "verdict: reason").

    Every file is repaired exactly as `apply` would, and original and repair are retrained in one session (one
    TensorFlow import per worker for all files), under the same budget. A repair is written only when verified
    not worse (improved, no significant change, fixed crash); a worse one or a new crash never is; one that could
    not be verified (not verified, timed out, not measured, model did not learn, ...) only with `keep_unverified`,
    and its reason then says it was written unverified.
    """
    from bnfix.verify.budget import Budget
    from bnfix.verify.report import build_rows
    from bnfix.verify.runner import RunOptions, default_jobs, plan_script, run_plans, seeds_from

    budget = Budget(epochs, steps, max_samples)
    options = RunOptions(
        seeds=seeds_from(seeds), timeout=timeout, jobs=jobs or default_jobs(), budget=budget, invocation_dir=Path.cwd()
    )
    rows = build_rows(run_plans([plan_script(path, settings_of(path)) for path in paths], options), budget.active)
    decisions: dict[Path, tuple[bool, str]] = {}
    for row in rows:
        reason = f"{row.verdict.value}: {row.judgement.reason}"
        if row.verdict.is_regression:
            decisions[row.path] = (False, reason)
        elif row.verdict.is_unverified:
            if keep_unverified:
                decisions[row.path] = (True, f"written unverified (--keep-unverified): {reason}")
            else:
                decisions[row.path] = (False, f"{reason} (--keep-unverified writes it anyway)")
        else:
            decisions[row.path] = (True, reason)
    return decisions


def verification_is_not_worse(path: Path, settings: Settings, **options) -> bool:
    """`verify_repairs` for one file: False when its repair is worse, newly crashes, or could not be verified."""
    return verify_repairs([path], settings, **options)[path][0]
