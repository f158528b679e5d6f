"""One run of `check` / `apply`: settings, files, the engine, writing back, the report and the exit code.

Streams, in every format: the report (findings, and errors about a file's content such as a syntax error, which
editors and CI show at the file) goes to stdout or `--output-file`; problems with running bnfix itself (usage,
configuration, a path that does not exist, a file that cannot be written) go to stderr.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Callable, Optional, TextIO

from bnfix.cli_options import OutputFormat, RunOptions
from bnfix.config import ConfigError, SettingsByFile, group_by_settings, load_settings, parse_keras_version, parse_policy
from bnfix.settings import Settings

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR, EXIT_REGRESSION = 0, 1, 2, 3

# Each file's settings (its nearest pyproject.toml, then the flags): config.SettingsByFile.
SettingsOf = Callable[[Path], Settings]
# What `apply --verify` plugs in between the repair and the write: it may hold repairs back.
BeforeWrite = Callable[[list, SettingsOf], list]


class UsageError(Exception):
    """Options that cannot go together, or a configuration that cannot be read (exit 2)."""


def error(message: str) -> None:
    from bnfix.report.style import palette_for

    sys.stderr.write(f"{palette_for(sys.stderr).error('error:')} {message}\n")


def warning(message: str, options: RunOptions) -> None:
    """On stderr, unless `--quiet` (as ruff's warnings)."""
    if options.quiet:
        return
    from bnfix.report.style import palette_for

    sys.stderr.write(f"{palette_for(sys.stderr).paint('warning:', 'bold yellow')} {message}\n")


def _split(values: Optional[list[str]]) -> Optional[tuple[str, ...]]:
    if not values:
        return None
    parts = tuple(part.strip() for value in values for part in value.split(",") if part.strip())
    return parts or ("",)  # `--select ""`: an error (config.parse_rule_selectors), not an empty selection


def settings_for(options: RunOptions) -> Settings:
    """The run's settings: those of the first path's project (or `--config`'s), then the flags."""
    paths = [options.stdin_filename] if options.stdin_filename else (options.paths or [Path(".")])
    try:
        return load_settings(paths, _overrides(options), options.config)
    except ConfigError as problem:
        raise UsageError(str(problem)) from None


def _overrides(options: RunOptions) -> dict:
    return {
        "policy": _flag(parse_policy, options.policy, "--policy"),
        "select": _split(options.select),
        "extend_select": _split(options.extend_select),
        "ignore": _split(options.ignore),
        "exclude": _split(options.exclude),
        "unsafe_fixes": options.unsafe_fixes,
        "keras_version": _flag(parse_keras_version, options.keras_version, "--keras-version"),
    }


def _flag(parse: Callable, value: Optional[str], flag: str):
    if value is None:
        return None
    try:
        return parse(value)
    except ConfigError as problem:
        raise UsageError(f"{flag}: {problem}") from None


def check_usage(options: RunOptions, fix: bool) -> None:
    if options.reads_stdin and options.watch:
        raise UsageError("--watch cannot read stdin ('-'): it watches files")
    if options.statistics and options.output_format in (OutputFormat.sarif, OutputFormat.github):
        raise UsageError(f"--statistics prints text, concise or json, not {options.output_format.value} (as in ruff)")
    if options.reads_stdin and fix and not options.diff and options.statistics:
        raise UsageError("--statistics cannot be combined with repairing stdin: stdout is the repaired source")


def run(options: RunOptions, fix: bool, before_write: BeforeWrite | None = None) -> int:
    """`check` (fix=False), `check --fix` or `apply` (fix=True): the exit code."""
    try:
        check_usage(options, fix)
        if options.watch:
            from bnfix.cli_watch import watch

            return watch(options, lambda: run_once(options, fix, before_write))
        return run_once(options, fix, before_write)
    except UsageError as problem:
        error(str(problem))
        if options.reads_stdin and fix and not options.diff:
            # An editor's filter (Vim's `:%!`) replaces the buffer with stdout: it gets the buffer back unchanged.
            sys.stdout.buffer.write(sys.stdin.buffer.read())
            sys.stdout.flush()
        return EXIT_ERROR


def run_once(options: RunOptions, fix: bool, before_write: BeforeWrite | None = None) -> int:
    settings = settings_for(options)
    if options.reads_stdin:
        for path in options.paths or []:
            if path != Path("-"):
                warning(f"ignoring {path}: --stdin-filename reads the source from stdin", options)
        return _run_stdin(options, settings, fix)
    settings_of = SettingsByFile(_overrides(options), options.config)
    try:  # every file's configuration is read before any file is processed: a broken one changes nothing
        paths, missing = _source_paths(options.paths or [Path(".")], settings_of)
        by_settings = group_by_settings(paths, settings_of)
    except ConfigError as problem:
        raise UsageError(str(problem)) from None
    for path in missing:
        error(f"{path}: no such file or directory")
    if not paths and not missing:
        warning("no Python files or notebooks found under the given path(s)", options)
    # With no file, a machine-readable report is still written (`[]`, a SARIF run without results): CI uploads it.
    results = _process(paths, by_settings, fix or options.diff, options) if paths else []
    write_failures = False
    if options.diff:
        _write_diffs(results, options)
    elif fix:
        if before_write is not None:
            results = before_write(results, settings_of)
        results, write_failures = _write_back(results, settings_of, options)
    if not options.diff:
        _write_report(results, settings, applied=fix, options=options)
    failed = bool(missing) or write_failures
    return exit_code(results, options, failed=failed, changed_counts=options.diff)


def exit_code(results, options: RunOptions, failed: bool = False, changed_counts: bool = False) -> int:
    """2 on any error; else 1 when findings remain (or `--diff` would change something) unless `--exit-zero`, or
    when something was fixed with `--exit-non-zero-on-fix`; else 0."""
    if failed or any(result.error for result in results):
        return EXIT_ERROR
    remaining = any(result.diagnostics for result in results) or (changed_counts and any(r.changed for r in results))
    if remaining and not options.exit_zero:
        return EXIT_FINDINGS
    if options.exit_non_zero_on_fix and any(result.fixed for result in results):
        return EXIT_FINDINGS
    return EXIT_CLEAN


def _source_paths(paths: list[Path], settings_of: SettingsByFile) -> tuple[list[Path], list[Path]]:
    """The files to process, each project's `exclude` applied below it; and the named paths that do not exist
    (each an error; the others still run)."""
    from bnfix.sources.files import CHECKED_SUFFIXES, discover

    missing = [path for path in paths if not path.exists()]
    existing = [path for path in paths if path.exists()]
    return (list(discover(existing, suffixes=CHECKED_SUFFIXES, exclude_at=settings_of.exclude_at)) if existing else []), missing


def _max_size(options: RunOptions) -> tuple[float, ...]:
    return () if options.max_file_size is None else (options.max_file_size,)


def _proposes_fixes(options: RunOptions) -> bool:
    """SARIF carries the repair in `check` too, so that code-scanning UIs can offer it; `--show-fixes` shows it."""
    return options.output_format is OutputFormat.sarif or options.show_fixes


def _process(paths: list[Path], by_settings: list[tuple[Settings, list[int]]], fix: bool, options: RunOptions) -> list:
    """Every file's result, in the order of `paths`, each group of files run with its own settings."""
    from bnfix.process import process_files
    from bnfix.report.progress import progress_bar

    propose = not fix and _proposes_fixes(options)
    description = "bnfix apply" if fix else "bnfix check"
    results: list = [None] * len(paths)
    with progress_bar(len(paths), description, enabled=not options.no_progress) as advance:
        for settings, indexes in by_settings:
            found = process_files(
                [paths[index] for index in indexes], settings, fix, options.jobs, propose, *_max_size(options),
                on_done=advance, use_cache=not options.no_cache,
            )
            for index, result in zip(indexes, found):
                results[index] = result
    return results


def _write_back(results: list, settings_of: SettingsOf, options: RunOptions) -> tuple[list, bool]:
    """Write the repaired files; one that cannot be written is reported (stderr) with the findings of the file as
    it still is on disk, so their positions stay true."""
    from bnfix.process import write_result

    failed = False
    written = []
    for result in results:
        try:
            write_result(result)
        except OSError as problem:
            failed = True
            error(f"{result.path}: cannot write: {problem.strerror or problem}")
            result = recheck_original(result, settings_of(result.path), *_max_size(options))
        written.append(result)
    return written, failed


def recheck_original(result, settings: Settings, *max_code_mb: float):
    """The findings of a file as it still is on disk, for a repair that was not written (positions stay true)."""
    from bnfix.process import process_text
    from bnfix.sources.files import SourceText

    text = result.text or SourceText(result.original, "utf-8", False)
    return process_text(result.path, dataclasses.replace(text, text=result.original), settings, False, False, *max_code_mb)


class _Report:
    """Where the report goes: `--output-file` (plain text) or stdout (coloured on a terminal)."""

    def __init__(self, options: RunOptions) -> None:
        from bnfix.report.style import PLAIN, palette_for

        self.path = options.output_file
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)  # as ruff: `-o reports/bnfix.json` in a fresh clone
        self.stream: TextIO = open(self.path, "w", encoding="utf-8") if self.path else sys.stdout  # noqa: SIM115
        self.palette = PLAIN if self.path else palette_for(sys.stdout)

    def __enter__(self) -> "_Report":
        return self

    def __exit__(self, *exc) -> None:
        if self.path:
            self.stream.close()
        else:
            self.stream.flush()


def _open_report(options: RunOptions) -> _Report:
    try:
        return _Report(options)
    except OSError as problem:
        raise UsageError(f"{options.output_file}: cannot write the report: {problem.strerror or problem}") from None


def _write_diffs(results: list, options: RunOptions) -> None:
    from bnfix.report import RENDERERS
    from bnfix.report.diff import paint_diff, unified_diff

    with _open_report(options) as report:
        report.stream.write(paint_diff("".join(unified_diff(result) for result in results), report.palette))
    errors = [result for result in results if result.error]
    if errors:  # the report is a patch: messages would corrupt it
        sys.stderr.write(RENDERERS["concise"](errors, True, True))


def _write_report(results: list, settings: Settings, applied: bool, options: RunOptions) -> None:
    from bnfix.report import RENDERERS

    text = options.output_format is OutputFormat.text
    human = text or options.output_format is OutputFormat.concise
    with _open_report(options) as report:
        styling = {"palette": report.palette, "unsafe_fixes": settings.unsafe_fixes}
        # Ruff's order: the findings (or the counts), what was fixed, then the summary. Each part's module is
        # imported only when it is written: an editor's one-file run pays for its own format alone.
        if options.statistics and options.output_format is OutputFormat.json:
            from bnfix.report.statistics import render_statistics_json

            report.stream.write(render_statistics_json(results, unsafe_fixes=settings.unsafe_fixes))
            return
        if options.statistics:
            from bnfix.report.statistics import render_statistics

            errors = [result for result in results if result.error]
            report.stream.write(RENDERERS["concise"](errors, applied, True, **styling))
            report.stream.write(render_statistics(results, **styling))
        elif human:
            report.stream.write(RENDERERS[options.output_format.value](results, applied, True, **styling))
        else:
            render = RENDERERS[options.output_format.value]
            report.stream.write(render(results, applied, options.quiet, docs_url=settings.docs_url, **styling))
            return
        if options.show_fixes and applied:
            from bnfix.report.fix_summary import render_fix_summary

            report.stream.write(render_fix_summary(results, palette=report.palette))
        if text and not options.quiet:
            from bnfix.report.text import summary_lines

            report.stream.write("".join(line + "\n" for line in summary_lines(results, applied, settings.unsafe_fixes, report.palette)))
        if options.show_fixes and not applied:
            from bnfix.report.diff import paint_diff, unified_diff

            diffs = "".join(unified_diff(result) for result in results)
            if diffs:
                report.stream.write("\nThe repairs `bnfix apply` would make:\n" + paint_diff(diffs, report.palette))


def _run_stdin(options: RunOptions, settings: Settings, fix: bool) -> int:
    """Editor mode: the source on stdin. `check` reports as usual; a repair writes exactly the repaired source to
    stdout (the input unchanged on any error) and nothing to stderr but errors, because an editor's filter (Vim's
    `:%!`) reads both streams into the buffer."""
    from bnfix.process import FileError, FileResult, process_text
    from bnfix.report import RENDERERS
    from bnfix.sources.files import ReadError, decode_source

    data = sys.stdin.buffer.read()
    path = options.stdin_filename or Path("-")
    repair = fix or options.diff
    try:
        text = decode_source(data)
        result = process_text(path, text, settings, repair, not repair and _proposes_fixes(options), *_max_size(options))
    except ReadError as problem:
        result = FileResult(path, error=FileError(f"cannot read: {problem}"))
    if not repair:
        _write_report([result], settings, applied=False, options=options)
        return exit_code([result], options)
    if options.diff:
        from bnfix.report.diff import unified_diff

        sys.stdout.write(unified_diff(result))
    else:
        sys.stdout.buffer.write(data if result.error or result.text is None else result.text.encode(result.source))
    sys.stdout.flush()
    if result.error:
        sys.stderr.write(RENDERERS[options.output_format.value]([result], True, True))
    elif options.show_fixes:
        from bnfix.report.fix_summary import render_fix_summary

        sys.stderr.write(render_fix_summary([result]))
    if options.output_file:
        _write_report([result], settings, applied=True, options=dataclasses.replace(options, show_fixes=False))
    return exit_code([result], options, changed_counts=options.diff)
