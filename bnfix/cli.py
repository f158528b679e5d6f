"""The `bnfix` command line: parses arguments, calls the engine, prints. No rule logic lives here.

Exit codes: 0 nothing left to report, 1 findings remain (or `--diff` would change something),
2 usage / configuration / parse error, 3 verification shows a regression.
"""

from __future__ import annotations

import dataclasses
import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from bnfix.config import ConfigError, load_settings, parse_keras_version, parse_policy
from bnfix.settings import Settings

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR, EXIT_REGRESSION = 0, 1, 2, 3

app = typer.Typer(
    name="bnfix",
    help="Find and repair the source-level causes of unexpected Keras BatchNormalization output.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class OutputFormat(str, Enum):
    text = "text"
    concise = "concise"
    json = "json"
    sarif = "sarif"
    github = "github"


PathsArg = typer.Argument(None, help="Files or directories (default: the current directory); '-' reads stdin.")
PolicyOpt = typer.Option(None, "--policy", help="BN placement: post (layer, activation, BN), pre (layer, BN, activation) or keep.")
SelectOpt = typer.Option(None, "--select", help="Comma-separated rule codes or prefixes to run (e.g. BNF1,BNF201).")
IgnoreOpt = typer.Option(None, "--ignore", help="Comma-separated rule codes or prefixes to skip.")
ExcludeOpt = typer.Option(None, "--exclude", help="Comma-separated gitignore-style patterns to skip.")
UnsafeOpt = typer.Option(None, "--unsafe-fixes/--no-unsafe-fixes", help="Also apply fixes that may change behaviour.")
KerasOpt = typer.Option(None, "--keras-version", help="Target Keras version (e.g. 3.14); default: the installed one.")
FormatOpt = typer.Option(OutputFormat.text, "--format", help="Report format.")
QuietOpt = typer.Option(False, "--quiet", "-q", help="Print only findings and errors, no summary.")
StdinNameOpt = typer.Option(None, "--stdin-filename", help="The path of the source read from stdin (config, messages).")
JobsOpt = typer.Option(None, "--jobs", "-j", min=1, help="Worker processes for many files (default: CPU count).")
MaxSizeOpt = typer.Option(
    None, "--max-file-size", min=0.001, help="Megabytes of code above which a file is reported, not parsed (default: 2)."
)
NoProgressOpt = typer.Option(False, "--no-progress", help="Never draw the progress bar (drawn only on a terminal, for long runs).")
NoCacheOpt = typer.Option(False, "--no-cache", help="Neither read nor write the result cache (.bnfix_cache, or cache-dir).")


def _split(values: Optional[List[str]]) -> Optional[tuple[str, ...]]:
    if not values:
        return None
    return tuple(part.strip().upper() for value in values for part in value.split(",") if part.strip())


def _settings(paths: List[Path], policy, select, ignore, exclude, unsafe_fixes, keras_version) -> Settings:
    try:
        overrides = {
            "policy": parse_policy(policy) if policy else None,
            "select": _split(select),
            "ignore": _split(ignore),
            "exclude": tuple(p.strip() for v in exclude for p in v.split(",")) if exclude else None,
            "unsafe_fixes": unsafe_fixes,
            "keras_version": parse_keras_version(keras_version) if keras_version else None,
        }
        return load_settings(paths, overrides)
    except ConfigError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_ERROR) from None


def _source_paths(paths: List[Path], settings: Settings) -> list[Path]:
    from bnfix.sources.files import CHECKED_SUFFIXES, discover

    missing = [path for path in paths if not path.exists()]
    if missing:
        typer.echo(f"error: no such file or directory: {missing[0]}", err=True)
        raise typer.Exit(EXIT_ERROR)
    return list(discover(paths, settings.exclude, CHECKED_SUFFIXES))


def _exit_code(results, *, changed_counts: bool = False) -> int:
    if any(result.error for result in results):
        return EXIT_ERROR
    if any(result.diagnostics for result in results) or (changed_counts and any(r.changed for r in results)):
        return EXIT_FINDINGS
    return EXIT_CLEAN


def _proposes_fixes(output_format: OutputFormat) -> bool:
    """SARIF carries the repair in `check` too, so that code-scanning UIs can offer it."""
    return output_format is OutputFormat.sarif


def _max_size(max_mb: Optional[float]) -> tuple[float, ...]:
    return () if max_mb is None else (max_mb,)


def _run_files(
    paths: list[Path],
    settings: Settings,
    fix: bool,
    jobs,
    output_format: OutputFormat,
    no_progress: bool,
    max_mb: Optional[float],
    no_cache: bool = False,
) -> list:
    from bnfix.process import process_files
    from bnfix.report.progress import with_progress

    propose = not fix and _proposes_fixes(output_format)
    results = process_files(paths, settings, fix, jobs, propose, *_max_size(max_mb), use_cache=not no_cache)
    return list(with_progress(results, len(paths), "bnfix apply" if fix else "bnfix check", enabled=not no_progress))


def _print_report(results, output_format: OutputFormat, applied: bool, quiet: bool) -> None:
    from bnfix.report import RENDERERS

    sys.stdout.write(RENDERERS[output_format.value](results, applied, quiet))


def _run_stdin(
    stdin_filename: Optional[Path], settings: Settings, fix: bool, output_format: OutputFormat, quiet: bool, max_mb: Optional[float]
) -> int:
    """IDE mode: source on stdin; `apply` writes the fixed source to stdout and findings to stderr."""
    from bnfix.sources.files import ReadError, decode_source
    from bnfix.process import FileResult, FileError, process_text
    from bnfix.report import RENDERERS

    data = sys.stdin.buffer.read()
    path = stdin_filename or Path("-")
    try:
        text = decode_source(data)
        result = process_text(path, text, settings, fix, _proposes_fixes(output_format), *_max_size(max_mb))
    except ReadError as error:
        result = FileResult(path, error=FileError(f"cannot read: {error}"))
    if fix:
        # On any error the editor gets its buffer back unchanged, never an empty one.
        sys.stdout.buffer.write(data if result.error or result.text is None else result.text.encode(result.source))
        sys.stdout.flush()
        if not quiet or result.error or result.diagnostics:
            sys.stderr.write(RENDERERS[output_format.value]([result], True, quiet))
    else:
        _print_report([result], output_format, False, quiet)
    return _exit_code([result])


@app.command()
def check(
    paths: Optional[List[Path]] = PathsArg,
    policy: Optional[str] = PolicyOpt,
    select: Optional[List[str]] = SelectOpt,
    ignore: Optional[List[str]] = IgnoreOpt,
    exclude: Optional[List[str]] = ExcludeOpt,
    unsafe_fixes: Optional[bool] = UnsafeOpt,
    keras_version: Optional[str] = KerasOpt,
    output_format: OutputFormat = FormatOpt,
    quiet: bool = QuietOpt,
    stdin_filename: Optional[Path] = StdinNameOpt,
    jobs: Optional[int] = JobsOpt,
    no_progress: bool = NoProgressOpt,
    max_file_size: Optional[float] = MaxSizeOpt,
    no_cache: bool = NoCacheOpt,
) -> None:
    """Report findings; exit 1 if there are any."""
    paths = paths or [Path(".")]
    settings = _settings([stdin_filename] if stdin_filename else paths, policy, select, ignore, exclude, unsafe_fixes, keras_version)
    if paths == [Path("-")]:
        raise typer.Exit(_run_stdin(stdin_filename, settings, False, output_format, quiet, max_file_size))
    results = _run_files(_source_paths(paths, settings), settings, False, jobs, output_format, no_progress, max_file_size, no_cache)
    _print_report(results, output_format, applied=False, quiet=quiet)
    raise typer.Exit(_exit_code(results))


@app.command()
def apply(
    paths: Optional[List[Path]] = PathsArg,
    diff: bool = typer.Option(False, "--diff", help="Print a unified diff and write nothing."),
    policy: Optional[str] = PolicyOpt,
    select: Optional[List[str]] = SelectOpt,
    ignore: Optional[List[str]] = IgnoreOpt,
    exclude: Optional[List[str]] = ExcludeOpt,
    unsafe_fixes: Optional[bool] = UnsafeOpt,
    keras_version: Optional[str] = KerasOpt,
    output_format: OutputFormat = FormatOpt,
    quiet: bool = QuietOpt,
    stdin_filename: Optional[Path] = StdinNameOpt,
    jobs: Optional[int] = JobsOpt,
    no_progress: bool = NoProgressOpt,
    max_file_size: Optional[float] = MaxSizeOpt,
    verify: bool = typer.Option(False, "--verify", help="Retrain each repaired script first; write only repairs that are not worse."),
    no_cache: bool = NoCacheOpt,
) -> None:
    """Repair files in place (or show the repair as a diff with --diff)."""
    from bnfix.process import write_result
    from bnfix.report.diff import unified_diff

    paths = paths or [Path(".")]
    settings = _settings([stdin_filename] if stdin_filename else paths, policy, select, ignore, exclude, unsafe_fixes, keras_version)
    if paths == [Path("-")]:
        raise typer.Exit(_run_stdin(stdin_filename, settings, True, output_format, quiet, max_file_size))
    results = _run_files(_source_paths(paths, settings), settings, True, jobs, output_format, no_progress, max_file_size, no_cache)
    if diff:
        sys.stdout.write("".join(unified_diff(result) for result in results))
        errors = [r for r in results if r.error]
        if errors:
            from bnfix.report import RENDERERS

            sys.stderr.write(RENDERERS["concise"](errors, True, True))
        raise typer.Exit(_exit_code(results, changed_counts=True))
    if verify:
        results = _hold_back_worse_repairs(results, settings)
    write_failures = []
    for result in results:
        try:
            write_result(result)
        except OSError as error:
            write_failures.append(f"error: {result.path}: cannot write: {error.strerror or error}")
    _print_report(results, output_format, applied=True, quiet=quiet)
    for failure in write_failures:
        typer.echo(failure, err=True)
    raise typer.Exit(EXIT_ERROR if write_failures else _exit_code(results))


def _hold_back_worse_repairs(results, settings: Settings):
    """`apply --verify`: a repair whose retrained script is worse (or newly crashes) is not written."""
    from bnfix.verify.command import verify_repairs

    changed = [result.path for result in results if result.changed]
    verdicts = verify_repairs(changed, settings) if changed else {}
    kept = []
    for result in results:
        not_worse, reason = verdicts.get(result.path, (True, ""))
        if not not_worse:
            typer.echo(f"held back {result.path}: {reason}", err=True)
            result = dataclasses.replace(result, source=result.original, diagnostics=result.diagnostics + result.fixed, fixed=[])
        kept.append(result)
    return kept


@app.command()
def clean(paths: Optional[List[Path]] = PathsArg) -> None:
    """Remove the result cache (.bnfix_cache at the project root, or cache-dir)."""
    from bnfix.cache import NotACacheError, cache_directory
    from bnfix.cache import clean as remove_cache

    settings = _settings(paths or [Path(".")], None, None, None, None, None, None)
    directory = cache_directory(settings)
    try:
        removed = remove_cache(directory)
    except (NotACacheError, OSError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_ERROR) from None
    typer.echo(f"removed {directory}" if removed else f"no cache at {directory}")


@app.command()
def rules() -> None:
    """List the rule catalogue."""
    from bnfix.rules import ALL_RULES

    for rule in ALL_RULES:
        fix = {None: "report only", "safe": "safe fix", "unsafe": "unsafe fix"}[rule.fix_safety and rule.fix_safety.value]
        typer.echo(f"{rule.code}  {rule.name:<28} {fix:<12} {rule.summary}")


@app.command()
def explain(code: str = typer.Argument(..., help="A rule code, e.g. BNF101.")) -> None:
    """Print one rule's documentation."""
    from bnfix.rules import rule_by_code

    rule = rule_by_code(code)
    if rule is None:
        typer.echo(f"error: unknown rule code {code!r}; `bnfix rules` lists them", err=True)
        raise typer.Exit(EXIT_ERROR)
    typer.echo(f"# {rule.code} ({rule.name})\n\n{rule.summary}.\n\n{rule.documentation()}")


from bnfix.verify.command import verify as verify_command  # noqa: E402  (`bnfix verify`, issue #5)

app.command(name="verify")(verify_command)


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
