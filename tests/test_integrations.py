"""The integrations as documented: the README's exact command lines (PyCharm, VS Code, stdin, CI) and the pre-commit
hooks run for real, and their output is read the way the IDE or CI would read it."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")

BROKEN = textwrap.dedent(
    """\
    from tensorflow import keras
    from tensorflow.keras import layers

    model = keras.Sequential([
        layers.Dense(64, use_bias=False),
        layers.BatchNormalization(),
        layers.Activation("relu"),
        layers.Dense(1),
    ])
    """
)
FIXED = BROKEN.replace(
    '    layers.BatchNormalization(),\n    layers.Activation("relu"),\n',
    '    layers.Activation("relu"),\n    layers.BatchNormalization(),\n',
)
BN_LINE, BN_COLUMN = 6, 5


def bnfix_program() -> list[str]:
    """What the `bnfix` console script runs, for this checkout's code (an editable install may point elsewhere)."""
    return [sys.executable, "-m", "bnfix"]


CHECKOUT_ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


def section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.S | re.M)
    assert match, f"README has no section {title!r}"
    return match.group(1)


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.S | re.M)


def run(command: list[str], cwd: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    if command[0] == "bnfix":
        command = [*bnfix_program(), *command[1:]]
    return subprocess.run(command, cwd=cwd, input=stdin, capture_output=True, timeout=120, env=CHECKOUT_ENV)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "model.py").write_text(BROKEN)
    (tmp_path / "src" / "clean.py").write_text("import numpy as np\n")
    return tmp_path


# ---------------------------------------------------------------- PyCharm


def pycharm_tools() -> list[dict[str, str]]:
    tools = []
    for block in blocks(section("PyCharm"), "text"):
        fields = dict(re.match(r"^([A-Za-z ]+):\s+(.*)$", line).groups() for line in block.strip().splitlines())
        tools.append(fields)
    return tools


def pycharm_filter_regex(output_filter: str) -> re.Pattern:
    """PyCharm's macros in an output filter: $FILE_PATH$ a path, $LINE$ and $COLUMN$ numbers."""
    pattern = re.escape(output_filter)
    for macro, group in (("$FILE_PATH$", r"(?P<file>.+?)"), ("$LINE$", r"(?P<line>\d+)"), ("$COLUMN$", r"(?P<column>\d+)")):
        pattern = pattern.replace(re.escape(macro), group)
    return re.compile("^" + pattern)


def expand_pycharm(arguments: str, file: Path, project: Path) -> list[str]:
    return shlex.split(arguments.replace("$FilePath$", str(file)).replace("$ProjectFileDir$", str(project)))


def test_readme_pycharm_check_tool_output_links_to_the_finding(project):
    [check, _] = pycharm_tools()
    target = project / "src" / "model.py"
    assert check["Program"] == "bnfix"
    result = run([check["Program"], *expand_pycharm(check["Arguments"], target, project)], cwd=project)
    assert result.returncode == 1
    lines = result.stdout.decode().splitlines()
    regex = pycharm_filter_regex(check["Output filters"])
    matches = [regex.match(line) for line in lines]
    assert lines and all(matches), lines
    assert (matches[0]["file"], int(matches[0]["line"]), int(matches[0]["column"])) == (str(target), BN_LINE, BN_COLUMN)


def test_readme_pycharm_fix_tool_repairs_the_file(project):
    [_, fix] = pycharm_tools()
    target = project / "src" / "model.py"
    result = run([fix["Program"], *expand_pycharm(fix["Arguments"], target, project)], cwd=project)
    assert result.returncode == 0, result.stdout
    assert target.read_text() == FIXED


# ---------------------------------------------------------------- VS Code


def vscode_tasks() -> dict[str, dict]:
    [tasks_json] = blocks(section("VS Code"), "json")
    return {task["label"]: task for task in json.loads(tasks_json)["tasks"]}


def expand_vscode(args: list[str], file: Path) -> list[str]:
    return [arg.replace("${file}", str(file)) for arg in args]


def test_readme_vscode_check_task_fills_the_problems_panel(project):
    task = vscode_tasks()["bnfix: check file"]
    target = project / "src" / "model.py"
    (project / "src" / "broken.py").write_text("import keras\nprint 'BatchNormalization'\n")
    result = run([task["command"], *expand_vscode(task["args"], target)], cwd=project)
    pattern = task["problemMatcher"]["pattern"]
    regex = re.compile(pattern["regexp"])
    [line] = result.stdout.decode().splitlines()
    match = regex.match(line)
    assert match, line
    assert match.group(pattern["file"]) == str(target)
    assert (int(match.group(pattern["line"])), int(match.group(pattern["column"]))) == (BN_LINE, BN_COLUMN)
    assert match.group(pattern["code"]) == "BNF101"
    # Errors are problems too.
    broken = run([task["command"], *expand_vscode(task["args"], project / "src" / "broken.py")], cwd=project)
    error = regex.match(broken.stdout.decode().splitlines()[0])
    assert error and error.group(pattern["code"]) == "error:" and int(error.group(pattern["line"])) == 2


def test_readme_vscode_fix_task_repairs_the_file(project):
    task = vscode_tasks()["bnfix: fix file"]
    target = project / "src" / "model.py"
    assert run([task["command"], *expand_vscode(task["args"], target)], cwd=project).returncode == 0
    assert target.read_text() == FIXED


def test_readme_stdin_command_returns_the_repaired_source_and_leaves_the_file(project):
    [command] = [line for block in blocks(section("VS Code"), "sh") for line in block.splitlines() if line.startswith("bnfix")]
    argv, redirect = command.split(" < ")
    assert redirect == "path/to/model.py"
    (project / "path" / "to").mkdir(parents=True)
    (project / "path" / "to" / "model.py").write_text(BROKEN)
    result = run(shlex.split(argv), cwd=project, stdin=BROKEN.encode())
    assert result.returncode == 0
    assert result.stdout.decode() == FIXED
    assert (project / "path" / "to" / "model.py").read_text() == BROKEN


# ---------------------------------------------------------------- CI


def ci_run_commands() -> list[str]:
    commands = []
    for block in blocks(section("CI: GitHub annotations and SARIF code scanning"), "yaml"):
        document = yaml.safe_load(block)
        steps = document["jobs"]["bnfix"]["steps"] if isinstance(document, dict) else document
        commands += [step["run"] for step in steps if "run" in step and step["run"].startswith("bnfix")]
    return commands


def test_readme_ci_commands_write_annotations_and_sarif(project):
    github, sarif = ci_run_commands()
    annotations = run(shlex.split(github), cwd=project)
    assert annotations.returncode == 1
    assert annotations.stdout.decode().startswith("::error title=bnfix (BNF101),file=src/model.py,line=6,col=5,")
    argv, target = sarif.split(" > ")
    log = run(shlex.split(argv), cwd=project)
    assert log.returncode == 1
    (project / target).write_bytes(log.stdout)
    results = json.loads((project / target).read_text())["runs"][0]["results"]
    assert results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "src/model.py"
    assert results[0]["fixes"]


# ---------------------------------------------------------------- pre-commit


def hooks() -> dict[str, dict]:
    return {hook["id"]: hook for hook in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}


def run_hook(hook: dict, files: list[Path], cwd: Path) -> subprocess.CompletedProcess:
    """What pre-commit does: the entry, the hook's args, then the staged file names."""
    return run([*shlex.split(hook["entry"]), *hook.get("args", []), *map(str, files)], cwd=cwd)


def test_pre_commit_hooks_declare_what_pre_commit_requires():
    declared = hooks()
    assert set(declared) == {"bnfix-check", "bnfix-fix"}
    for hook in declared.values():
        assert {"id", "name", "entry", "language"} <= set(hook)
        assert hook["language"] == "python" and set(hook["types_or"]) == {"python", "jupyter"}


def test_pre_commit_check_hook_fails_on_findings_and_passes_clean_files(project):
    hook = hooks()["bnfix-check"]
    failing = run_hook(hook, [Path("src/model.py"), Path("src/clean.py")], project)
    assert failing.returncode == 1
    assert failing.stdout.decode().startswith("src/model.py:6:5: BNF101 ")
    assert run_hook(hook, [Path("src/clean.py")], project).returncode == 0


def test_pre_commit_fix_hook_repairs_so_the_commit_can_be_reviewed(project):
    hook = hooks()["bnfix-fix"]
    result = run_hook(hook, [Path("src/model.py")], project)
    assert result.returncode == 0
    assert (project / "src" / "model.py").read_text() == FIXED  # pre-commit sees the change and stops the commit
    assert run_hook(hooks()["bnfix-check"], [Path("src/model.py")], project).returncode == 0


def test_readme_local_hook_runs_the_same_command_as_the_published_hook():
    local = [block for block in blocks(section("pre-commit"), "yaml") if "repo: local" in block]
    [config] = local
    [hook] = yaml.safe_load(config)["repos"][0]["hooks"]
    assert hook["entry"] == hooks()["bnfix-check"]["entry"]
    assert hook["types_or"] == hooks()["bnfix-check"]["types_or"]
