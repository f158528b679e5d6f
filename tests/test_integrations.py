"""The integrations as documented: the README's exact command lines (PyCharm, VS Code, stdin, CI) and the pre-commit
hooks run for real, and their output is read the way the IDE or CI would read it."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
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
).replace("Dense(64, use_bias=False)", "Dense(64)")  # BN no longer follows Dense: its bias comes back
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


def vscode_matchers(task: dict) -> list[tuple[re.Pattern, dict]]:
    return [(re.compile(matcher["pattern"]["regexp"]), matcher["pattern"]) for matcher in task["problemMatcher"]]


def problems(task: dict, output: str) -> list[dict]:
    """What VS Code puts in the Problems panel for `output`: each line must be read by exactly one matcher."""
    found = []
    for line in output.splitlines():
        readings = [(regex.match(line), pattern) for regex, pattern in vscode_matchers(task)]
        readings = [(match, pattern) for match, pattern in readings if match]
        assert len(readings) == 1, f"{len(readings)} matchers read {line!r}"
        [(match, pattern)] = readings
        found.append({key: match.group(pattern[key]) if isinstance(pattern[key], int) else pattern[key] for key in pattern if key != "regexp"})
    return found


def notebook_json(*cells: str) -> str:
    def cell(source: str) -> dict:
        return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": source.splitlines(keepends=True)}

    document = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": ["# A model"]}, *map(cell, cells)]}
    document |= {"metadata": {"kernelspec": {"language": "python", "name": "python3"}}, "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(document, indent=1) + "\n"


def test_readme_vscode_check_task_fills_the_problems_panel(project):
    task = vscode_tasks()["bnfix: check file"]
    target = project / "src" / "model.py"
    result = run([task["command"], *expand_vscode(task["args"], target)], cwd=project)
    [problem] = problems(task, result.stdout.decode())
    assert (problem["file"], int(problem["line"]), int(problem["column"]), problem["code"]) == (str(target), BN_LINE, BN_COLUMN, "BNF101")
    assert problem["message"].startswith("BatchNormalization before the 'relu' activation")  # the [*] marker is not in it
    assert "[*]" in result.stdout.decode()
    # Errors are problems too.
    (project / "src" / "broken.py").write_text("import keras\nprint 'BatchNormalization'\n")
    broken = run([task["command"], *expand_vscode(task["args"], project / "src" / "broken.py")], cwd=project)
    [error] = problems(task, broken.stdout.decode())
    assert error["code"] == "error" and int(error["line"]) == 2


def test_readme_vscode_matchers_read_every_line_bnfix_prints_for_py_and_ipynb(project):
    task = vscode_tasks()["bnfix: check file"]
    src = project / "src"
    (src / "tiny.py").write_text("from tensorflow import keras\nmodel = keras.Sequential([keras.layers.BatchNormalization()])\nmodel.fit(x, y, batch_size=2)\n")
    (src / "broken.py").write_text("import keras\nprint 'BatchNormalization'\n")
    imports, build = BROKEN.split("\n\n", 1)
    (src / "nb.ipynb").write_text(notebook_json(imports, build, "model.fit(x, y, batch_size=2)"))
    (src / "bad_cell.ipynb").write_text(notebook_json("from tensorflow import keras", "keras.layers.BatchNormalization(\n"))
    (src / "not_json.ipynb").write_text("{ BatchNormalization")
    args = [arg for arg in task["args"] if arg != "${file}"] + ["src"]
    result = run([task["command"], *args], cwd=project)
    output = result.stdout.decode()
    found = problems(task, output)  # every line is read, by exactly one matcher
    by_file = {}
    for problem in found:
        by_file.setdefault(Path(problem["file"]).name, []).append(problem)
    assert sorted(by_file) == ["bad_cell.ipynb", "broken.py", "model.py", "nb.ipynb", "not_json.ipynb", "tiny.py"]
    assert [(p["code"], p["line"]) for p in by_file["model.py"]] == [("BNF101", str(BN_LINE))]
    assert [p["code"] for p in by_file["tiny.py"]] == ["BNF204"]
    assert [p["code"] for p in by_file["broken.py"]] == ["error"]
    assert [(p["code"], p["kind"], p["message"].split(": ")[0]) for p in by_file["nb.ipynb"]] == [("BNF101", "file", "cell 3:3:5"), ("BNF204", "file", "cell 4:1:17")]
    assert [(p["code"], p["message"].split(": ")[0]) for p in by_file["bad_cell.ipynb"]] == [("error", "cell 3:1:32")]  # the bracket never closed
    assert [p["code"] for p in by_file["not_json.ipynb"]] == ["error"]


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


# ---------------------------------------------------------------- Vim


def vimrc(tmp_path: Path) -> tuple[Path, dict]:
    """The README's Vim lines as a vimrc, and an environment whose PATH has a `bnfix` that runs this checkout."""
    [block] = blocks(section("Vim"), "vim")
    rc = tmp_path / "vimrc"
    rc.write_text(block)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "bnfix"
    shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m bnfix "$@"\n')
    shim.chmod(0o755)
    return rc, {**CHECKOUT_ENV, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


def vim(rc: Path, env: dict, file: Path, *commands: str) -> None:
    argv = ["vim", "-Es", "-N", "-u", str(rc), "-i", "NONE", *[arg for command in commands for arg in ("-c", command)], "-c", "qa!", str(file)]
    subprocess.run(argv, cwd=file.parent, env=env, timeout=120, stdin=subprocess.DEVNULL, capture_output=True)


needs_vim = pytest.mark.skipif(
    shutil.which("vim") is None, reason="vim is not installed (.ci/run installs it on CI: apt-get install vim)"
)


def quickfix(rc: Path, env: dict, file: Path, *commands: str) -> list[dict]:
    """Vim's quickfix list after `commands`, as Vim itself parsed it (file, line, column, text, valid)."""
    dump = file.parent / "quickfix.json"
    entry = '{"file": bufname(e.bufnr), "lnum": e.lnum, "col": e.col, "text": e.text, "valid": e.valid}'
    vim(rc, env, file, *commands, f"call writefile([json_encode(map(getqflist(), {{_, e -> {entry}}}))], '{dump}')")
    return json.loads(dump.read_text())


@needs_vim
def test_readme_vim_filter_puts_exactly_the_repaired_source_in_the_buffer(tmp_path):
    rc, env = vimrc(tmp_path)
    target = tmp_path / "model.py"
    target.write_text(BROKEN)
    vim(rc, env, target, "BnfixFix", "w")
    assert target.read_text() == FIXED


@needs_vim
def test_readme_vim_filter_leaves_the_buffer_as_it_was_on_an_error(tmp_path):
    rc, env = vimrc(tmp_path)
    target = tmp_path / "model.py"
    broken = "import keras\nmodel = keras.Sequential([\n    keras.layers.BatchNormalization(\n"
    target.write_text(broken)
    vim(rc, env, target, "BnfixFix", "w")
    assert target.read_text() == broken


@needs_vim
def test_readme_vim_make_lists_a_py_file_at_its_lines_and_a_notebook_by_cell(tmp_path):
    rc, env = vimrc(tmp_path)
    (tmp_path / "model.py").write_text(BROKEN)
    imports, build = BROKEN.split("\n\n", 1)
    (tmp_path / "nb.ipynb").write_text(notebook_json(imports, build, "model.fit(x, y, batch_size=2)"))
    [finding] = quickfix(rc, env, tmp_path / "model.py", "silent make")
    assert finding["file"] == "model.py" and (finding["lnum"], finding["col"], finding["valid"]) == (BN_LINE, BN_COLUMN, 1)
    assert finding["text"].startswith("BNF101 [*] BatchNormalization before the 'relu' activation")
    notebook = quickfix(rc, env, tmp_path / "nb.ipynb", "silent make")
    assert [(e["file"], e["lnum"], e["valid"], e["text"].split(" [*] ")[0].split(" batch_size")[0]) for e in notebook] == [
        ("nb.ipynb", 0, 1, "cell 3:3:5: BNF101"),
        ("nb.ipynb", 0, 1, "cell 4:1:17: BNF204"),
    ]


@needs_vim
def test_readme_vim_errorformat_reads_every_line_bnfix_prints(project):
    """All of bnfix's kinds of line, from a real run, read by Vim: each names a file that exists."""
    rc, env = vimrc(project)
    src = project / "src"
    (src / "broken.py").write_text("import keras\nprint 'BatchNormalization'\n")
    imports, build = BROKEN.split("\n\n", 1)
    (src / "nb.ipynb").write_text(notebook_json(imports, build, "model.fit(x, y, batch_size=2)"))
    (src / "bad_cell.ipynb").write_text(notebook_json("from tensorflow import keras", "keras.layers.BatchNormalization(\n"))
    (src / "not_json.ipynb").write_text("{ BatchNormalization")
    output = run([*bnfix_program(), "check", "--format", "concise", "--no-progress", "src"], cwd=project)
    (project / "bnfix.out").write_bytes(output.stdout)
    entries = quickfix(rc, env, project / "src" / "model.py", f"cd {project}", "cgetfile bnfix.out")
    assert len(entries) == len(output.stdout.decode().splitlines()) == 6
    assert all(e["valid"] and (project / e["file"]).is_file() for e in entries), entries
    head = re.compile(r"(cell \d+:\d+:\d+: )?(BNF\d{3}|error)")
    located = [(Path(e["file"]).name, e["lnum"], e["col"], head.match(e["text"]).group(0)) for e in entries]
    assert located == [
        ("bad_cell.ipynb", 0, 0, "cell 3:1:32: error"),
        ("broken.py", 2, 1, "error"),
        ("model.py", BN_LINE, BN_COLUMN, "BNF101"),
        ("nb.ipynb", 0, 0, "cell 3:3:5: BNF101"),
        ("nb.ipynb", 0, 0, "cell 4:1:17: BNF204"),
        ("not_json.ipynb", 1, 1, "error"),
    ]


def test_stdin_repair_writes_nothing_to_stderr_unless_there_is_an_error(project):
    """So that even a filter without the redirect gets only the source."""
    argv = ["bnfix", "apply", "-", "--stdin-filename", "src/model.py", "--format", "concise"]
    fixed = run(argv, cwd=project, stdin=BROKEN.encode())
    assert (fixed.returncode, fixed.stdout.decode(), fixed.stderr) == (0, FIXED, b"")
    remaining = run(argv, cwd=project, stdin=b"from tensorflow import keras\nmodel = keras.Sequential([keras.layers.BatchNormalization()])\nmodel.fit(x, y, batch_size=2)\n")
    assert remaining.returncode == 1 and remaining.stderr == b""  # a finding is not an error
    source = b"from keras.layers import BatchNormalization\ndef f(:\n    pass\n"
    broken = run(argv, cwd=project, stdin=source)
    assert broken.returncode == 2 and broken.stdout == source
    assert broken.stderr.decode().startswith("src/model.py:2:7: error: ")


@needs_vim
def test_readme_vim_make_fills_the_quickfix_list(tmp_path):
    rc, env = vimrc(tmp_path)
    target = tmp_path / "model.py"
    target.write_text(BROKEN)
    listing = tmp_path / "quickfix.txt"
    row = 'printf("%d %s:%d:%d %s", v:val.valid, bufname(v:val.bufnr), v:val.lnum, v:val.col, v:val.text)'
    entries = f"call writefile(map(getqflist(), '{row.replace(chr(39), chr(39) * 2)}'), '{listing}')"
    vim(rc, env, target, "silent make!", entries)
    [entry] = listing.read_text().splitlines()
    assert entry.startswith(f"1 model.py:{BN_LINE}:{BN_COLUMN} BNF101 [*] BatchNormalization before")


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
