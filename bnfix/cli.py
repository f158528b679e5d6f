"""The `bnfix` command line: parses arguments, calls the engine, prints. No rule logic lives here.

`check` and `apply` declare only what is theirs (`--fix`, `--verify`); the options they share are declared once in
cli_options.py and the run they share (files, engine, write-back, report, exit code) is cli_run.py.

Exit codes: 0 nothing left to report, 1 findings remain (or `--diff` would change something),
2 usage / configuration / parse error, 3 verification shows a regression.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Callable, ClassVar, List, Optional

import typer
import typer.main
from typer.models import CommandInfo

from bnfix import __version__
from bnfix.cli_options import RunOptions, run_options
from bnfix.cli_run import EXIT_CLEAN, EXIT_ERROR, recheck_original, run
from bnfix.cli_typer import DirectCommand, LazyGroup
from bnfix.fast_exit import exit_code, leave
from bnfix.settings import Settings


def _verify_command():
    """`bnfix verify` (issue #5), built only when it runs or the commands are listed: `check` never imports it."""
    from bnfix.verify.command import verify

    info = CommandInfo(name="verify", callback=verify, cls=DirectCommand)
    return typer.main.get_command_from_info(info, pretty_exceptions_short=app.pretty_exceptions_short, rich_markup_mode=app.rich_markup_mode)


class _Commands(LazyGroup):
    lazy_commands: ClassVar = {"verify": _verify_command}


app = typer.Typer(
    cls=_Commands,
    name="bnfix",
    help="Find and repair the source-level causes of unexpected Keras BatchNormalization output.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"bnfix {__version__}")
        raise typer.Exit(EXIT_CLEAN)


@app.callback()
def _main(
    version: Optional[bool] = typer.Option(None, "--version", "-V", callback=_print_version, is_eager=True, help="Print bnfix's version and exit."),
) -> None:
    """Find and repair the source-level causes of unexpected Keras BatchNormalization output."""


@app.command(cls=DirectCommand)
@run_options
def check(
    options: RunOptions,
    fix: bool = typer.Option(False, "--fix/--no-fix", help="Repair the files in place, as `bnfix apply` does."),
) -> None:
    """Report findings; exit 1 if there are any (with --fix: repair them, as apply does)."""
    raise typer.Exit(run(options, fix=fix))


@app.command(cls=DirectCommand)
@run_options
def apply(
    options: RunOptions,
    verify: bool = typer.Option(False, "--verify", help="Retrain each repaired script first; write only repairs verified not worse."),
    seeds: int = typer.Option(3, "--seeds", min=1, help="With --verify: runs per version, each with its own seed."),
    timeout: float = typer.Option(300.0, "--timeout", min=1.0, help="With --verify: seconds one run may take."),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="With --verify: at most N epochs per fit."),
    steps: Optional[int] = typer.Option(None, "--steps", min=1, help="With --verify: at most N steps per epoch."),
    max_samples: Optional[int] = typer.Option(None, "--max-samples", min=1, help="With --verify: the same N rows of every array."),
    keep_unverified: bool = typer.Option(False, "--keep-unverified", help="With --verify: also write repairs that could not be verified."),
) -> None:
    """Repair files in place (or show the repair as a diff with --diff)."""
    before_write = None
    if verify:
        from bnfix.verify import MISSING_KERAS, keras_installed

        if not keras_installed():  # every repair would be held back as "not verified"
            typer.echo(f"error: {MISSING_KERAS}", err=True)
            raise typer.Exit(EXIT_ERROR)
        budget = {"seeds": seeds, "timeout": timeout, "epochs": epochs, "steps": steps, "max_samples": max_samples}
        before_write = functools.partial(_hold_back_worse_repairs, keep_unverified=keep_unverified, **budget)
    raise typer.Exit(run(dataclasses.replace(options, fix=True), fix=True, before_write=before_write))


def _hold_back_worse_repairs(results, settings_of: Callable[[Path], Settings], **options):
    """`apply --verify`: a repair that is worse, newly crashes or could not be verified is not written."""
    from bnfix.verify.command import verify_repairs

    changed = [result.path for result in results if result.changed]
    verdicts = verify_repairs(changed, settings_of, **options) if changed else {}
    kept = []
    for result in results:
        write, reason = verdicts.get(result.path, (True, ""))
        if write and "unverified" in reason:
            typer.echo(f"{result.path}: {reason}", err=True)
        if not write:
            typer.echo(f"held back {result.path}: {reason}", err=True)
            result = recheck_original(result, settings_of(result.path))
        kept.append(result)
    return kept


@app.command(cls=DirectCommand)
def rules() -> None:
    """List the rule catalogue."""
    from bnfix.rules import ALL_RULES

    for rule in ALL_RULES:
        fix = {None: "report only", "safe": "safe fix", "unsafe": "unsafe fix"}[rule.fix_safety and rule.fix_safety.value]
        typer.echo(f"{rule.code}  {rule.name:<28} {fix:<12} {rule.summary}")


@app.command(cls=DirectCommand)
def clean(
    paths: Optional[List[Path]] = typer.Argument(None, help="A path inside the project (default: the current directory)."),
    config: Optional[Path] = typer.Option(None, "--config", help="The configuration file that names cache-dir."),
) -> None:
    """Remove the result cache (.bnfix_cache at the project root, or cache-dir)."""
    from bnfix.cache import NotACacheError, cache_directory
    from bnfix.cache import clean as remove_cache
    from bnfix.cli_run import UsageError, settings_for

    try:
        directory = cache_directory(settings_for(RunOptions(paths=paths, config=config)))
        removed = remove_cache(directory)
    except (UsageError, NotACacheError, OSError) as problem:
        typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(EXIT_ERROR) from None
    typer.echo(f"removed {directory}" if removed else f"no cache at {directory}")


@app.command(cls=DirectCommand)
def explain(code: str = typer.Argument(..., help="A rule code, e.g. BNF101.")) -> None:
    """Print one rule's documentation."""
    from bnfix.report.rule_docs import explanation
    from bnfix.rules import rule_by_code

    rule = rule_by_code(code)
    if rule is None:
        typer.echo(f"error: unknown rule code {code!r}; `bnfix rules` lists them", err=True)
        raise typer.Exit(EXIT_ERROR)
    typer.echo(explanation(rule), nl=False)  # the text each rule's page (docs/rules/CODE.md) starts with


@app.command(cls=DirectCommand)
def server() -> None:
    """Run the language server over stdio: diagnostics and fixes in any LSP editor (needs the server extra)."""
    try:
        from bnfix.server.server import serve
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] not in ("pygls", "lsprotocol", "cattrs"):
            raise
        typer.echo(f"error: the language server needs pygls and lsprotocol: pip install 'bnfix[server]' ({error})", err=True)
        raise typer.Exit(EXIT_ERROR) from None
    serve()


def main() -> None:
    try:
        app(prog_name="bnfix")
    except SystemExit as finished:
        leave(exit_code(finished.code))
    leave(EXIT_CLEAN)


if __name__ == "__main__":  # pragma: no cover
    main()
