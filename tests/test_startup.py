"""Start-up cost of the editor calls: what `check FILE` and the stdin filter import, and typer's coercion without
pydantic giving exactly what typer's own gives (bench/ide_latency.py measures the time itself)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from enum import Enum
from pathlib import Path
from typing import ClassVar

import pytest
import typer.main

from bnfix.cli import app
from bnfix.cli_typer import DirectCommand, LazyGroup, coerce_directly

ROOT = Path(__file__).resolve().parent.parent
SMALL = textwrap.dedent(
    """\
    from tensorflow import keras
    from keras import layers
    m = keras.Sequential([layers.Dense(4), layers.BatchNormalization(), layers.ReLU()])
    """
)
# Run the CLI in a child and list what it imported (its report goes to stdout as usual).
IMPORTS_SCRIPT = textwrap.dedent(
    """
    import atexit, json, os, sys

    def list_modules():
        with open(os.environ["BNFIX_MODULES_OUT"], "w") as out:
            json.dump(sorted(sys.modules), out)

    atexit.register(list_modules)  # the command line's exit runs the exit handlers, then leaves at once
    from bnfix.cli import main
    sys.argv = ["bnfix", *sys.argv[1:]]
    main()
    """
)
# Needed by another command, a notebook, a terminal, or an error only.
NOT_FOR_ONE_FILE = ("tensorflow", "keras", "tf_keras", "bnfix.verify", "bnfix.server", "pygls", "lsprotocol", "pydantic", "typer._adapters", "rich", "nbformat", "pathspec", "matplotlib", "concurrent.futures.process")


def _modules_imported_by(tmp_path: Path, *args: str, stdin: str | None = None) -> tuple[subprocess.CompletedProcess, list[str]]:
    out = tmp_path / "modules.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BNFIX_MODULES_OUT": str(out)}
    env.pop("FORCE_COLOR", None)
    completed = subprocess.run(
        [sys.executable, "-c", IMPORTS_SCRIPT, *args],
        input=stdin, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False,
    )
    return completed, json.loads(out.read_text())


def _heavy(modules: list[str]) -> list[str]:
    return [name for name in modules if any(name == heavy or name.startswith(heavy + ".") for heavy in NOT_FOR_ONE_FILE)]


@pytest.mark.parametrize("cache", [["--no-cache"], []], ids=["no-cache", "cache"])
def test_check_one_file_imports_no_verify_server_keras_or_pydantic(tmp_path, cache):
    (tmp_path / "small.py").write_text(SMALL)
    completed, modules = _modules_imported_by(tmp_path, "check", "--format", "concise", "--no-progress", *cache, "small.py")
    assert completed.returncode == 1, completed.stderr
    assert completed.stdout.startswith("small.py:3:40: BNF101 ")
    assert "libcst" in modules and "bnfix.rules" in modules  # the check really ran
    assert _heavy(modules) == []


def test_the_stdin_filter_imports_no_verify_server_keras_or_pydantic(tmp_path):
    completed, modules = _modules_imported_by(tmp_path, "apply", "-", "--stdin-filename", "small.py", stdin=SMALL)
    assert completed.returncode == 0, completed.stderr
    assert "layers.ReLU(), layers.BatchNormalization()" in completed.stdout
    assert _heavy(modules) == []


def test_verify_is_still_built_when_it_runs(tmp_path):
    completed, modules = _modules_imported_by(tmp_path, "verify", "--help")
    assert completed.returncode == 0, completed.stderr
    assert "Usage: bnfix verify" in completed.stdout and "--seeds" in completed.stdout
    assert "bnfix.verify.command" in modules


# ---------------------------------------------------------------- typer's coercion without pydantic

# Raw values as the command line (or a default) hands them to a parameter, by the annotation typer resolved.
RAW_VALUES = {
    int: ["3", "03", "0", "1", "-1", "+2", "1_0", " 2", "2 ", "x", "", "3.0", "٣", "9" * 30, 3, 0, True],
    float: ["0.5", "1", "300", ".5", "1.", "1e3", "nan", "inf", "-0.1", "0.0001", "x", "", 300.0, 2],
    str: ["abc", "", "BNF1,BNF201", "-"],
    Path: ["a.py", "a/./b", "", "-", ".", "~", Path("x")],
    Enum: ["concise", "CONCISE", "text", "bogus", ""],
}


def _typer_parameters():
    group = typer.main.get_command(app)
    for name in group.list_commands(None):
        command = group.get_command(None, name)
        for param in command.params:
            if hasattr(param, "type_descriptor"):
                yield command, param
    for param in group.params:
        if hasattr(param, "type_descriptor"):
            yield group, param


def _raw_values(param) -> list:
    from typing import get_args, get_origin

    annotation = param.type_descriptor.annotation
    is_list = get_origin(annotation) is list
    leaf = get_args(annotation)[0] if is_list else annotation
    values = RAW_VALUES[Enum] + list(leaf) if isinstance(leaf, type) and issubclass(leaf, Enum) else RAW_VALUES.get(leaf, [])
    if is_list:
        return [tuple(values[:2]), tuple(values), (), "single"]
    return values


def _outcome(runtime, value, param, ctx):
    from typer._click.exceptions import BadParameter

    try:
        return ("value", runtime.coerce(value, param=param, ctx=ctx))
    except BadParameter as problem:
        return ("error", problem.format_message())


def test_every_parameter_coerces_every_raw_value_exactly_as_typer_does():
    coercion = pytest.importorskip("typer._coercion")
    from typer._click import Context

    checked = 0
    for command, param in _typer_parameters():
        ctx = Context(command)
        typer_runtime = coercion.build_runtime_param(param.type_descriptor)
        param._runtime_param = None
        coerce_directly([param])
        direct = param._runtime_param
        assert direct is not None and type(direct).__name__ == "DirectRuntimeParam", param.name
        for value in _raw_values(param):
            expected = _outcome(typer_runtime, value, param, ctx)
            got = _outcome(direct, value, param, ctx)
            assert got == expected, (command.name, param.name, value)
            if expected[0] == "value":
                assert type(got[1]) is type(expected[1]), (command.name, param.name, value)
            checked += 1
    assert checked > 300


def test_plain_values_never_reach_pydantic(monkeypatch):
    pytest.importorskip("typer._coercion")
    from bnfix import cli_typer

    def no_pydantic(descriptor):
        raise AssertionError(f"typer's adapter was built for {descriptor.annotation}")

    monkeypatch.setattr(cli_typer, "build_runtime_param", no_pydantic)
    from typer._click import Context

    group = typer.main.get_command(app)
    check = group.get_command(None, "check")
    params = {param.name: param for param in check.params}
    ctx = Context(check)
    for param in params.values():
        param._runtime_param = None
    coerce_directly(list(params.values()))
    plain = {"paths": ("a.py", "-"), "jobs": "2", "max_file_size": "0.5", "output_format": "concise", "select": ("BNF1",), "config": "pyproject.toml"}
    coerced = {name: params[name]._runtime_param.coerce(value, param=params[name], ctx=ctx) for name, value in plain.items()}
    assert coerced == {
        "paths": [Path("a.py"), Path("-")], "jobs": 2, "max_file_size": 0.5, "output_format": coerced["output_format"],
        "select": ["BNF1"], "config": Path("pyproject.toml"),
    }
    assert coerced["output_format"].value == "concise"


def test_the_commands_use_the_start_up_classes():
    group = typer.main.get_command(app)
    assert isinstance(group, LazyGroup)
    assert all(isinstance(group.get_command(None, name), DirectCommand) for name in group.list_commands(None))


# ---------------------------------------------------------------- commands built on demand


def test_a_lazy_command_keeps_its_place_and_is_built_once():
    built = []

    def build_late():
        built.append("late")
        return typer.main.get_command_from_info(
            typer.models.CommandInfo(name="late", callback=lambda: None, cls=DirectCommand),
            pretty_exceptions_short=True, rich_markup_mode=None,
        )

    class Group(LazyGroup):
        lazy_commands: ClassVar = {"late": build_late}

    sample = typer.Typer(cls=Group)
    sample.command(name="first", cls=DirectCommand)(lambda: None)
    sample.command(name="second", cls=DirectCommand)(lambda: None)
    group = typer.main.get_command(sample)
    assert list(group.commands) == ["first", "second", "late"] and "late" in group.commands and built == []
    assert group.get_command(None, "second").name == "second" and built == []
    assert group.get_command(None, "late").name == "late" and group.commands["late"] is group.get_command(None, "late")
    assert built == ["late"]


def test_a_lazy_command_that_fails_to_build_fails_again_on_the_next_try():
    attempts = []

    def broken():
        attempts.append(1)
        raise ModuleNotFoundError("No module named 'missing_extra'")

    class Group(LazyGroup):
        lazy_commands: ClassVar = {"broken": broken}

    sample = typer.Typer(cls=Group)
    sample.command(name="fine", cls=DirectCommand)(lambda: None)
    sample.command(name="also-fine", cls=DirectCommand)(lambda: None)  # one command alone would be no group
    group = typer.main.get_command(sample)
    for _ in range(2):
        with pytest.raises(ModuleNotFoundError, match="missing_extra"):
            group.get_command(None, "broken")
    assert len(attempts) == 2
