"""The options `check` and `apply` share, declared once.

`@run_options` gives a command every option below (typer sees them as parameters) and hands the command one
`RunOptions`; a command declares only its own extra parameters. A new shared option is one field here and one
entry in `_OPTIONS`.
"""

from __future__ import annotations

import functools
import inspect
import typing
from dataclasses import dataclass, fields
from enum import Enum
from pathlib import Path
from typing import Annotated, Callable, List, Optional

import typer


class OutputFormat(str, Enum):
    text = "text"
    concise = "concise"
    json = "json"
    sarif = "sarif"
    github = "github"


@dataclass(frozen=True)
class RunOptions:
    paths: Optional[List[Path]] = None
    fix: bool = False
    diff: bool = False
    unsafe_fixes: Optional[bool] = None
    show_fixes: bool = False
    exit_zero: bool = False
    exit_non_zero_on_fix: bool = False
    statistics: bool = False
    watch: bool = False
    output_format: OutputFormat = OutputFormat.text
    output_file: Optional[Path] = None
    quiet: bool = False
    no_progress: bool = False
    config: Optional[Path] = None
    policy: Optional[str] = None
    select: Optional[List[str]] = None
    extend_select: Optional[List[str]] = None
    ignore: Optional[List[str]] = None
    exclude: Optional[List[str]] = None
    keras_version: Optional[str] = None
    stdin_filename: Optional[Path] = None
    jobs: Optional[int] = None
    max_file_size: Optional[float] = None
    no_cache: bool = False

    @property
    def reads_stdin(self) -> bool:
        """`-` as the path, or `--stdin-filename` at all: as in ruff, a file name for stdin means stdin is read."""
        return self.paths == [Path("-")] or self.stdin_filename is not None


def complete_rule_codes(incomplete: str) -> list[str]:
    """Shell completion for --select/--ignore: the codes (after the last comma) that start with what was typed."""
    from bnfix.rules import RULE_CODES

    head, _, last = incomplete.rpartition(",")
    prefix = f"{head}," if head else ""
    return [prefix + code for code in RULE_CODES if code.startswith(last.upper())]


_CODES_HELP = "Comma-separated rule codes or prefixes"
# name -> (annotation, default); typer reads the help text and flags from the annotation.
_OPTIONS: dict[str, tuple[object, object]] = {
    "paths": (Annotated[Optional[List[Path]], typer.Argument(help="Files or directories (default: the current directory); '-' reads stdin.")], None),
    "diff": (Annotated[bool, typer.Option("--diff", help="Print a unified diff of the repairs and write nothing (exit 1 if there is any).")], False),
    "unsafe_fixes": (Annotated[Optional[bool], typer.Option("--unsafe-fixes/--no-unsafe-fixes", help="Also apply (and mark) fixes that may change behaviour.")], None),
    "show_fixes": (Annotated[bool, typer.Option("--show-fixes", help="After a repair, list what was fixed; without one, show the diff a repair would make.")], False),
    "exit_zero": (Annotated[bool, typer.Option("--exit-zero", "-e", help="Exit 0 even when findings remain (errors still exit 2).")], False),
    "exit_non_zero_on_fix": (Annotated[bool, typer.Option("--exit-non-zero-on-fix", help="Exit 1 when anything was fixed, even if nothing remains.")], False),
    "statistics": (Annotated[bool, typer.Option("--statistics", help="Print a count per rule instead of the findings.")], False),
    "watch": (Annotated[bool, typer.Option("--watch", "-w", help="Run again whenever a file changes (needs the watch extra); Ctrl-C stops.")], False),
    "output_format": (Annotated[OutputFormat, typer.Option("--format", "--output-format", help="Report format.")], OutputFormat.text),
    "output_file": (Annotated[Optional[Path], typer.Option("--output-file", "-o", help="Write the report to this file instead of stdout.")], None),
    "quiet": (Annotated[bool, typer.Option("--quiet", "-q", help="Print only findings and errors: no summary, no warning.")], False),
    "no_progress": (Annotated[bool, typer.Option("--no-progress", help="Never draw the progress bar (drawn only on a terminal, for long runs).")], False),
    "config": (Annotated[Optional[Path], typer.Option("--config", help="Read the configuration from this file instead of the nearest pyproject.toml.")], None),
    "policy": (Annotated[Optional[str], typer.Option("--policy", help="BN placement: post (layer, activation, BN), pre (layer, BN, activation) or keep.")], None),
    "select": (Annotated[Optional[List[str]], typer.Option("--select", help=f"{_CODES_HELP} to run, replacing the configured ones (e.g. BNF1,BNF201).", autocompletion=complete_rule_codes)], None),
    "extend_select": (Annotated[Optional[List[str]], typer.Option("--extend-select", help=f"{_CODES_HELP} to run in addition to the selected ones.", autocompletion=complete_rule_codes)], None),
    "ignore": (Annotated[Optional[List[str]], typer.Option("--ignore", help=f"{_CODES_HELP} to skip.", autocompletion=complete_rule_codes)], None),
    "exclude": (Annotated[Optional[List[str]], typer.Option("--exclude", help="Comma-separated gitignore-style patterns to skip.")], None),
    "keras_version": (Annotated[Optional[str], typer.Option("--keras-version", help="Target Keras version (e.g. 3.14); default: the installed one.")], None),
    "stdin_filename": (Annotated[Optional[Path], typer.Option("--stdin-filename", help="Read the source from stdin; PATH names it (config, messages).")], None),
    "jobs": (Annotated[Optional[int], typer.Option("--jobs", "-j", min=1, help="Worker processes for many files (default: CPU count).")], None),
    "max_file_size": (Annotated[Optional[float], typer.Option("--max-file-size", min=0.001, help="Megabytes of code above which a file is reported, not parsed (default: 2).")], None),
    "no_cache": (Annotated[bool, typer.Option("--no-cache", help="Neither read nor write the result cache (.bnfix_cache, or cache-dir).")], False),
}


def run_options(command: Callable[..., None]) -> Callable[..., None]:
    """Give `command(options: RunOptions, **own)` the shared options as typer parameters.

    The command's own parameters (say `check --fix`, `apply --verify`) are declared on it as usual; a parameter
    named like a RunOptions field is passed both ways: into the options and to the command.
    """
    hints = typing.get_type_hints(command, include_extras=True)
    own = [
        parameter.replace(annotation=hints.get(parameter.name, parameter.annotation), kind=inspect.Parameter.KEYWORD_ONLY)
        for parameter in inspect.signature(command).parameters.values()
        if parameter.name != "options"
    ]
    own_names = {parameter.name for parameter in own}
    shared = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
        for name, (annotation, default) in _OPTIONS.items()
        if name not in own_names
    ]
    option_names = {f.name for f in fields(RunOptions)}

    @functools.wraps(command)
    def wrapper(**values):
        options = RunOptions(**{name: value for name, value in values.items() if name in option_names})
        return command(options, **{name: values[name] for name in own_names})

    # The arguments first, then the command's own options, then the shared ones: the order of `--help`.
    parameters = shared[:1] + own + shared[1:]
    wrapper.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {parameter.name: parameter.annotation for parameter in parameters}
    del wrapper.__wrapped__  # typer must read the new signature, not the command's
    return wrapper
