"""Strict input: a typo in a rule code, a config value of the wrong type, a missing path or an empty directory is a
clear error (or warning) naming what is wrong, never a silent pass; findings go to stdout and errors about running
bnfix to stderr, in every format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bnfix.cli import app
from bnfix.rules import RULE_CODES

from tests.test_cli import BROKEN_PLACEMENT, CLEAN, FIXED_PLACEMENT

runner = CliRunner()

# BNF202 (PyTorch momentum) has an unsafe fix: it shows whether unsafe-fixes was read as true.
UNSAFE_ONLY = "from tensorflow.keras import layers\nbn = layers.BatchNormalization(momentum=0.1)\n"
UNSAFE_FIXED = "from tensorflow.keras import layers\nbn = layers.BatchNormalization(momentum=0.9)\n"


def invoke(*args: str, input: str | None = None):
    return runner.invoke(app, list(args), input=input)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "model.py").write_text(BROKEN_PLACEMENT)
    (tmp_path / "pkg" / "clean.py").write_text(CLEAN)
    return tmp_path


def configure(project: Path, table: str) -> Path:
    path = project / "pyproject.toml"
    path.write_text(f"[tool.bnfix]\n{table}\n")
    return path


# ---------------------------------------------------------------- rule codes


@pytest.mark.parametrize("flag", ["--select", "--ignore", "--extend-select"])
def test_an_unknown_code_on_the_command_line_exits_2_naming_the_valid_ones(project, flag):
    result = invoke("check", flag, "BNF1,BNF999", str(project))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert f"error: {flag}: unknown rule code or prefix 'BNF999'; valid codes: {', '.join(RULE_CODES)}" in result.stderr


def test_an_unknown_prefix_is_refused_and_known_prefixes_work(project):
    assert invoke("check", "--select", "BNF9", str(project)).exit_code == 2
    assert invoke("check", "--select", "XYZ", str(project)).exit_code == 2
    assert invoke("check", "--select", "bnf10", str(project)).exit_code == 1  # a prefix of BNF101, any case
    assert invoke("check", "--select", "ALL", "--ignore", "BNF1", str(project)).exit_code == 0


@pytest.mark.parametrize("flag", ["--select", "--ignore", "--extend-select"])
def test_an_empty_code_is_refused_not_read_as_no_rule_or_every_rule(project, flag):
    for value in ("", " , "):
        result = invoke("check", flag, value, str(project))
        assert (result.exit_code, result.stdout) == (2, "")
        assert f"error: {flag}: an empty rule code; valid codes: " in result.stderr
    pyproject = configure(project, f'{flag[2:]} = [""]')
    result = invoke("check", str(project))
    assert result.exit_code == 2 and f"error: {pyproject}: [tool.bnfix] {flag[2:]}: an empty rule code" in result.stderr


@pytest.mark.parametrize("key", ["select", "ignore", "extend-select"])
def test_an_unknown_code_in_the_configuration_names_the_file_and_the_key(project, key):
    pyproject = configure(project, f'{key} = ["BNF999"]')
    result = invoke("check", str(project))
    assert result.exit_code == 2
    assert f"error: {pyproject}: [tool.bnfix] {key}: unknown rule code or prefix 'BNF999'" in result.stderr


def test_extend_select_adds_to_the_configured_selection(project):
    configure(project, 'select = ["BNF2"]')
    assert invoke("check", str(project)).exit_code == 0  # BNF101 is not selected
    extended = invoke("check", "--extend-select", "BNF101", "--format", "concise", str(project))
    assert extended.exit_code == 1 and "BNF101" in extended.stdout
    configure(project, 'select = ["BNF2"]\nextend-select = ["BNF1"]')
    assert invoke("check", str(project)).exit_code == 1
    assert invoke("check", "--select", "BNF2", str(project)).exit_code == 0  # a --select starts over, as in ruff


def test_the_more_specific_selector_wins_on_the_command_line_and_in_the_file(project):
    assert invoke("check", "--select", "BNF101", "--ignore", "BNF1", str(project)).exit_code == 1
    assert invoke("check", "--select", "BNF1", "--ignore", "BNF101", str(project)).exit_code == 0
    configure(project, 'select = ["BNF101"]\nignore = ["BNF"]')
    assert invoke("check", str(project)).exit_code == 1


# ---------------------------------------------------------------- configuration values


@pytest.mark.parametrize(
    "table, message",
    [
        ('unsafe-fixes = "no"', "[tool.bnfix] unsafe-fixes: must be true or false (a TOML boolean, unquoted), not 'no'"),
        ("unsafe-fixes = 0", "[tool.bnfix] unsafe-fixes: must be true or false (a TOML boolean, unquoted), not 0"),
        ('policy = "sideways"', "[tool.bnfix] policy must be one of post, pre, keep, not 'sideways'"),
        ("policy = 1", "[tool.bnfix] policy: must be a string, not 1"),
        ('select = "BNF1"', "[tool.bnfix] select: must be a list of strings"),
        ("exclude = [1]", "[tool.bnfix] exclude: must be a list of strings"),
        ("keras-version = 3.14", "[tool.bnfix] keras-version: must be a string, not 3.14"),
        ('keras-version = "three"', "[tool.bnfix] keras-version must look like '3.14', not 'three'"),
        ("fix = true", "[tool.bnfix] unknown option(s): fix; known: policy, select, extend-select"),
    ],
)
def test_every_configuration_error_names_the_file_and_the_key(project, table, message):
    pyproject = configure(project, table)
    result = invoke("apply", str(project))
    assert result.exit_code == 2
    assert f"error: {pyproject}: {message}" in result.stderr
    assert result.stdout == ""
    assert (project / "pkg" / "model.py").read_text() == BROKEN_PLACEMENT  # nothing was touched


def test_unsafe_fixes_is_a_real_boolean(project):
    target = project / "pkg" / "model.py"
    target.write_text(UNSAFE_ONLY)
    configure(project, "unsafe-fixes = false")
    assert invoke("apply", str(project)).exit_code == 1
    assert target.read_text() == UNSAFE_ONLY
    configure(project, "unsafe-fixes = true")
    assert invoke("apply", str(project)).exit_code == 0
    assert target.read_text() == UNSAFE_FIXED


def test_a_broken_toml_file_is_named(project):
    pyproject = project / "pyproject.toml"
    pyproject.write_text("[tool.bnfix\npolicy = 'pre'\n")
    result = invoke("check", str(project))
    assert result.exit_code == 2 and f"error: {pyproject}: cannot read configuration" in result.stderr


# ---------------------------------------------------------------- --config


def test_config_reads_the_named_file_instead_of_the_nearest_pyproject(project, tmp_path_factory):
    configure(project, 'policy = "post"')
    elsewhere = tmp_path_factory.mktemp("shared")
    (elsewhere / "bnfix.toml").write_text('policy = "pre"\n')  # a file that is not a pyproject: the table itself
    (elsewhere / "pyproject.toml").write_text('[tool.bnfix]\npolicy = "pre"\n')
    target = project / "pkg" / "model.py"
    target.write_text(FIXED_PLACEMENT)  # right for post, wrong for pre
    assert invoke("check", str(target)).exit_code == 0
    assert invoke("check", "--config", str(elsewhere / "bnfix.toml"), str(target)).exit_code == 1
    assert invoke("check", "--config", str(elsewhere / "pyproject.toml"), str(target)).exit_code == 1
    assert invoke("check", "--config", str(elsewhere / "bnfix.toml"), "--policy", "post", str(target)).exit_code == 0


def test_config_errors_name_the_given_file(project, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("shared")
    missing = elsewhere / "nope.toml"
    result = invoke("check", "--config", str(missing), str(project))
    assert result.exit_code == 2 and f"error: {missing}: no such configuration file" in result.stderr
    (elsewhere / "bnfix.toml").write_text('unsafe-fixes = "yes"\n')
    result = invoke("check", "--config", str(elsewhere / "bnfix.toml"), str(project))
    assert result.exit_code == 2 and f"error: {elsewhere / 'bnfix.toml'}: unsafe-fixes: must be true or false" in result.stderr
    (elsewhere / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    result = invoke("check", "--config", str(elsewhere / "pyproject.toml"), str(project))
    assert result.exit_code == 2 and "has no [tool.bnfix] table" in result.stderr


# ---------------------------------------------------------------- nested projects: each file its nearest configuration


@pytest.fixture
def monorepo(tmp_path: Path) -> Path:
    """A root project (post) holding a project of its own (pre), each file wrong for its own project's policy."""
    configure(tmp_path, 'policy = "post"\nexclude = ["generated/"]')
    (tmp_path / "sub").mkdir()
    configure(tmp_path / "sub", 'policy = "pre"\nexclude = ["legacy/"]')
    for directory in ("", "sub", "generated", "sub/generated", "legacy", "sub/legacy"):
        (tmp_path / directory).mkdir(exist_ok=True)
        (tmp_path / directory / "model.py").write_text(FIXED_PLACEMENT if directory.startswith("sub") else BROKEN_PLACEMENT)
    return tmp_path


def _reported(result) -> list[str]:
    return sorted(line.split(":")[0] for line in result.stdout.splitlines() if ": BNF" in line)


def test_each_file_is_checked_with_its_nearest_configuration_in_any_order_of_paths(monorepo, monkeypatch):
    monkeypatch.chdir(monorepo)
    # Not generated/ (the root's exclude) nor sub/legacy/ (sub's), but sub/generated/: sub's exclude rules there.
    expected = ["legacy/model.py", "model.py", "sub/generated/model.py", "sub/model.py"]
    for paths in (["."], ["sub", "."], ["legacy", "sub", "model.py"]):
        result = invoke("check", "--format", "concise", *paths)
        assert (result.exit_code, _reported(result)) == (1, expected)
    # Each project's `exclude` applies below it, relative to its root, from wherever bnfix runs.
    monkeypatch.chdir(monorepo.parent)
    result = invoke("check", "--format", "concise", str(monorepo))
    assert _reported(result) == [str(monorepo / path) for path in expected]


def test_the_flags_apply_to_every_project_and_config_to_every_file(monorepo, monkeypatch):
    monkeypatch.chdir(monorepo)
    assert _reported(invoke("check", "--format", "concise", "--policy", "pre", ".")) == ["sub/generated/model.py", "sub/model.py"]
    assert _reported(invoke("check", "--format", "concise", "--policy", "post", ".")) == ["legacy/model.py", "model.py"]
    # One file for all: post everywhere, and the root's exclude everywhere (sub/generated/ too).
    assert _reported(invoke("check", "--format", "concise", "--config", "pyproject.toml", ".")) == ["legacy/model.py", "model.py"]


def test_a_broken_nested_configuration_stops_the_run_before_anything_is_written(monorepo, monkeypatch):
    monkeypatch.chdir(monorepo)
    (monorepo / "sub" / "pyproject.toml").write_text("[tool.bnfix]\npolicy = 3\n")
    before = {path: path.read_bytes() for path in monorepo.rglob("*.py")}
    result = invoke("apply", ".")
    assert result.exit_code == 2 and f"{(monorepo / 'sub' / 'pyproject.toml').resolve()}: [tool.bnfix] policy" in result.stderr
    assert {path: path.read_bytes() for path in monorepo.rglob("*.py")} == before


def test_each_project_keeps_its_own_result_cache(monorepo, monkeypatch):
    monkeypatch.chdir(monorepo)
    assert invoke("check", "sub", ".").exit_code == 1
    assert sorted(str(path.parent.relative_to(monorepo)) for path in monorepo.rglob(".bnfix_cache")) == [".", "sub"]


# ---------------------------------------------------------------- paths


def test_a_missing_path_is_an_error_for_that_path_and_the_others_are_still_processed(project):
    missing = project / "missing.py"
    result = invoke("apply", "--format", "concise", str(missing), str(project / "pkg"))
    assert result.exit_code == 2
    assert result.stderr == f"error: {missing}: no such file or directory\n"
    assert (project / "pkg" / "model.py").read_text() == FIXED_PLACEMENT
    checked = invoke("check", "--format", "concise", str(missing), str(project / "pkg"))
    assert checked.exit_code == 2 and checked.stdout == ""  # the file is fixed now: nothing to report


def test_only_missing_paths_exit_2(project):
    result = invoke("check", str(project / "a.py"), str(project / "b.py"))
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"error: {project / 'a.py'}: no such file or directory", f"error: {project / 'b.py'}: no such file or directory"]
    assert result.stdout == ""  # not "All checks passed.": nothing was checked


@pytest.mark.parametrize("output_format", ["json", "sarif"])
@pytest.mark.parametrize("nothing", ["empty directory", "missing path"])
def test_with_no_file_a_machine_readable_report_is_still_one_valid_document(tmp_path, output_format, nothing):
    target = tmp_path / ("missing.py" if nothing == "missing path" else "")
    report = tmp_path / "report.out"
    result = invoke("check", "--format", output_format, "-o", str(report), str(target))
    assert result.exit_code == (2 if nothing == "missing path" else 0)
    document = json.loads(report.read_text())
    assert document == [] if output_format == "json" else [run["results"] for run in document["runs"]] == [[]]
    result = invoke("check", "--format", output_format, "--statistics" if output_format == "json" else "-q", str(target))
    assert json.loads(result.stdout) is not None


def test_no_files_found_is_a_warning_and_exit_0(tmp_path):
    (tmp_path / "notes.txt").write_text("BatchNormalization\n")
    result = invoke("check", str(tmp_path))
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr == "warning: no Python files or notebooks found under the given path(s)\n"
    quiet = invoke("check", "--quiet", str(tmp_path))  # as ruff's --quiet: no warning either
    assert (quiet.exit_code, quiet.stdout, quiet.stderr) == (0, "", "")


@pytest.mark.parametrize("output_format", ["text", "concise", "json", "sarif", "github"])
def test_findings_on_stdout_and_path_errors_on_stderr_in_every_format(project, output_format):
    missing = project / "missing.py"
    result = invoke("check", "--format", output_format, str(project / "pkg"), str(missing))
    assert result.exit_code == 2
    assert result.stderr == f"error: {missing}: no such file or directory\n"
    assert "BNF101" in result.stdout and "missing.py" not in result.stdout
    if output_format in ("json", "sarif"):
        json.loads(result.stdout)  # stdout stays one valid document


def test_usage_errors_go_to_stderr(project):
    for args in (["--policy", "sideways"], ["--keras-version", "x"], ["--format", "xml"]):
        result = invoke("check", *args, str(project))
        assert result.exit_code == 2 and result.stdout == "", args
        assert result.stderr
    assert "error: --policy: policy must be one of post, pre, keep" in invoke("check", "--policy", "sideways", str(project)).stderr
