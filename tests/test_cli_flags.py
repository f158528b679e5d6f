"""The flags a ruff user types without reading the docs, with ruff's meanings: --version, check --fix, --unsafe-fixes,
--exit-zero, --exit-non-zero-on-fix, --statistics, --output-file, --show-fixes, check --diff, shell completion."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bnfix import __version__
from bnfix.cli import app

from tests.test_cli import BROKEN_PLACEMENT, FIXED_PLACEMENT

runner = CliRunner()
ROOT = Path(__file__).resolve().parent.parent

# One safe finding (BNF101), two with unsafe fixes (BNF103, BNF202) and one report-only (BNF204).
MIXED = """\
from tensorflow import keras
from tensorflow.keras import layers

model = keras.Sequential([
    layers.Dense(64, use_bias=False),
    layers.BatchNormalization(),
    layers.Activation("relu"),
    layers.Dense(1),
])
model.fit(x, y, batch_size=4, epochs=1)
head = keras.Sequential([layers.Dense(3), layers.BatchNormalization(momentum=0.1)])
"""
MIXED_SAFE_FIXED = MIXED.replace(
    '    layers.BatchNormalization(),\n    layers.Activation("relu"),\n', '    layers.Activation("relu"),\n    layers.BatchNormalization(),\n'
).replace("layers.Dense(64, use_bias=False)", "layers.Dense(64)")  # under post the bias follows BN (issue 10)
MIXED_ALL_FIXED = MIXED_SAFE_FIXED.replace("layers.Dense(3), layers.BatchNormalization(momentum=0.1)", "layers.Dense(3, use_bias=False), layers.BatchNormalization(momentum=0.9)")


def invoke(*args: str, input: str | None = None):
    return runner.invoke(app, list(args), input=input)


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    path = tmp_path / "model.py"
    path.write_text(MIXED)
    return path


def test_version():
    for flag in ("--version", "-V"):
        result = invoke(flag)
        assert result.exit_code == 0
        assert result.stdout == f"bnfix {__version__}\n"


def test_check_fix_is_apply(tmp_path):
    by_check, by_apply = tmp_path / "a.py", tmp_path / "b.py"
    by_check.write_text(BROKEN_PLACEMENT)
    by_apply.write_text(BROKEN_PLACEMENT)
    fixed_by_check = invoke("check", "--fix", str(by_check))
    fixed_by_apply = invoke("apply", str(by_apply))
    assert by_check.read_text() == by_apply.read_text() == FIXED_PLACEMENT
    assert fixed_by_check.exit_code == fixed_by_apply.exit_code == 0
    assert fixed_by_check.stdout == fixed_by_apply.stdout == "Fixed 1 finding (0 remaining).\n"


def test_check_fix_on_stdin_is_apply_on_stdin():
    by_check = invoke("check", "--fix", "-", "--stdin-filename", "model.py", input=BROKEN_PLACEMENT)
    by_apply = invoke("apply", "-", "--stdin-filename", "model.py", input=BROKEN_PLACEMENT)
    assert (by_check.exit_code, by_check.stdout, by_check.stderr) == (by_apply.exit_code, by_apply.stdout, by_apply.stderr) == (0, FIXED_PLACEMENT, "")


def test_check_fix_with_unsafe_fixes(mixed):
    result = invoke("check", "--fix", "--unsafe-fixes", "--format", "concise", str(mixed))
    assert mixed.read_text() == MIXED_ALL_FIXED
    assert result.exit_code == 1  # BNF204 has no fix
    assert result.stdout == f"{mixed}:10:17: BNF204 batch_size=4: " + result.stdout.split(": BNF204 batch_size=4: ", 1)[1]
    assert result.stdout.count("\n") == 1


def test_fix_markers_follow_unsafe_fixes_and_vanish_after_a_repair(mixed):
    def markers(*args):
        lines = invoke("check", "--format", "concise", *args, str(mixed)).stdout.splitlines()
        return {line.split(": ")[1].split(" ")[0]: "[*]" in line for line in lines}

    assert markers() == {"BNF101": True, "BNF103": False, "BNF202": False, "BNF204": False}
    assert markers("--unsafe-fixes") == {"BNF101": True, "BNF103": True, "BNF202": True, "BNF204": False}
    after = invoke("apply", "--format", "concise", str(mixed)).stdout
    assert after and "[*]" not in after  # what could be fixed, was (ruff shows no marker after --fix)


def test_exit_zero_and_exit_non_zero_on_fix(mixed, tmp_path):
    assert invoke("check", str(mixed)).exit_code == 1
    assert invoke("check", "--exit-zero", str(mixed)).exit_code == 0
    assert invoke("check", "-e", str(mixed), str(tmp_path / "missing.py")).exit_code == 2  # errors are not findings
    clean = tmp_path / "other.py"
    clean.write_text(BROKEN_PLACEMENT)
    assert invoke("apply", "--exit-non-zero-on-fix", str(clean)).exit_code == 1
    assert clean.read_text() == FIXED_PLACEMENT
    assert invoke("apply", "--exit-non-zero-on-fix", str(clean)).exit_code == 0  # nothing left to fix


def test_statistics_in_ruffs_layout(mixed):
    result = invoke("check", "--statistics", str(mixed))
    assert result.exit_code == 1
    assert result.stdout == (
        "1\tBNF101\t[*] bn-placement\n"
        "1\tBNF103\t[ ] redundant-bias\n"
        "1\tBNF202\t[ ] pytorch-momentum\n"
        "1\tBNF204\t[ ] tiny-batches\n"
        "Found 4 findings.\n"
        "[*] 1 fixable with `bnfix apply`.\n"
        "2 more fixes available with `bnfix apply --unsafe-fixes`.\n"
    )
    unsafe = invoke("check", "--statistics", "--unsafe-fixes", "--quiet", str(mixed)).stdout
    assert unsafe.splitlines()[1] == "1\tBNF103\t[*] redundant-bias"


def test_statistics_counts_most_frequent_first_and_pads_the_counts(tmp_path):
    for index in range(10):
        (tmp_path / f"m{index}.py").write_text(BROKEN_PLACEMENT)
    (tmp_path / "tiny.py").write_text("from tensorflow import keras\nmodel = keras.Sequential([keras.layers.BatchNormalization()])\nmodel.fit(x, y, batch_size=2)\n")
    lines = invoke("check", "--statistics", "--quiet", str(tmp_path)).stdout.splitlines()
    assert lines == ["10\tBNF101\t[*] bn-placement", " 1\tBNF204\t[ ] tiny-batches"]


def test_statistics_as_json(mixed):
    rows = json.loads(invoke("check", "--statistics", "--format", "json", str(mixed)).stdout)
    assert rows[0] == {"code": "BNF101", "name": "bn-placement", "count": 1, "fixable": True, "fixable_count": 1}
    assert [row["code"] for row in rows] == ["BNF101", "BNF103", "BNF202", "BNF204"]


def test_statistics_refuses_the_formats_that_cannot_hold_it(mixed):
    for output_format in ("sarif", "github"):
        result = invoke("check", "--statistics", "--format", output_format, str(mixed))
        assert result.exit_code == 2 and result.stdout == ""
        assert result.stderr == f"error: --statistics prints text, concise or json, not {output_format} (as in ruff)\n"


def test_output_file_takes_the_report_and_errors_stay_on_stderr(mixed, tmp_path):
    report = tmp_path / "report.json"
    result = invoke("check", "--format", "json", "-o", str(report), str(mixed), str(tmp_path / "missing.py"))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == f"error: {tmp_path / 'missing.py'}: no such file or directory\n"
    assert [row["code"] for row in json.loads(report.read_text())] == ["BNF101", "BNF204", "BNF103", "BNF202"]
    nested = tmp_path / "reports" / "bnfix" / "r.json"  # its directories are made, as ruff makes them
    assert invoke("check", "--format", "json", "-o", str(nested), str(mixed)).exit_code == 1 and json.loads(nested.read_text())
    unwritable = invoke("check", "--output-file", str(report / "r.txt"), str(mixed))  # under a file: no directory there
    assert unwritable.exit_code == 2 and "cannot write the report" in unwritable.stderr


def test_show_fixes_after_a_repair_lists_what_was_fixed(mixed):
    result = invoke("apply", "--show-fixes", "--unsafe-fixes", "--quiet", str(mixed))
    assert result.stdout.endswith(
        "Fixed 3 findings:\n"
        f"- {mixed}:\n"
        "    1 × BNF101 (bn-placement)\n"
        "    1 × BNF103 (redundant-bias)\n"
        "    1 × BNF202 (pytorch-momentum)\n"
    )


def test_show_fixes_without_a_repair_shows_the_diff_it_would_make(mixed):
    result = invoke("check", "--show-fixes", str(mixed))
    assert result.exit_code == 1
    report, diff = result.stdout.split("\nThe repairs `bnfix apply` would make:\n")
    assert "Found 4 findings." in report
    changed = [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert changed == [  # paired as git pairs them; under post the bias follows BN (issue 10)
        "-    layers.Dense(64, use_bias=False),",
        "-    layers.BatchNormalization(),",
        "+    layers.Dense(64),",
        "+    layers.BatchNormalization(),",
    ]
    assert mixed.read_text() == MIXED


def test_check_diff_is_apply_diff(mixed):
    by_check, by_apply = invoke("check", "--diff", str(mixed)), invoke("apply", "--diff", str(mixed))
    assert by_check.exit_code == by_apply.exit_code == 1
    assert by_check.stdout == by_apply.stdout and by_check.stdout.startswith("--- ")
    assert mixed.read_text() == MIXED


def test_apply_reports_what_remains_at_its_position_in_the_written_file(mixed):
    """Ruff's behaviour: after a repair, the findings left are located in the file as it now is on disk."""
    result = invoke("apply", "--format", "concise", str(mixed))
    rows = [line.split(":")[:3] for line in result.stdout.splitlines()]
    written = mixed.read_text().splitlines()
    for path, line, column in rows:
        assert path == str(mixed)
    texts = {line.split(": ")[1].split(" ")[0]: written[int(row[1]) - 1][int(row[2]) - 1 :] for line, row in zip(result.stdout.splitlines(), rows)}
    assert texts["BNF204"].startswith("batch_size=4")
    assert texts["BNF103"].startswith("layers.Dense(3)")


# ---------------------------------------------------------------- shell completion (typer's)


def _bnfix(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "bnfix", *args], capture_output=True, text=True, env=environment, timeout=60)


def _from_bash(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run bnfix from an interactive-like bash, as a user types it: typer detects the shell from its parent process."""
    command = " ".join([shlex.quote(sys.executable), "-m", "bnfix", *args]) + "; exit $?"  # `; exit`: bash must not exec
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True, env=environment, timeout=60)


def test_show_completion_prints_a_script_for_the_shell():
    completed = _from_bash("--show-completion")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "_BNFIX_COMPLETE=complete_bash" in completed.stdout and "complete -o default -F _bnfix_completion bnfix" in completed.stdout


def test_install_completion_writes_the_script_into_the_shells_startup_file(tmp_path):
    completed = _from_bash("--install-completion", env={"HOME": str(tmp_path)})
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "bash completion installed" in completed.stdout
    assert "source" in (tmp_path / ".bashrc").read_text()
    assert "_BNFIX_COMPLETE=complete_bash" in (tmp_path / ".bash_completions" / "bnfix.sh").read_text()


def test_completion_answers_commands_options_and_rule_codes():
    def complete(words: str) -> list[str]:
        line = f"bnfix {words}"
        env = {"_BNFIX_COMPLETE": "complete_bash", "COMP_WORDS": line, "COMP_CWORD": str(len(line.split()) - (0 if line.endswith(" ") else 1))}
        return _bnfix(env=env).stdout.split()

    assert complete("ch") == ["check"]
    assert "--statistics" in complete("check --stat")
    assert complete("check --select BNF20") == ["BNF201", "BNF202", "BNF203", "BNF204"]


def test_the_readme_command_reference_lists_every_flag_of_check_and_apply():
    import re

    import typer.main

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    reference = re.search(r"^### Command reference.*?(?=^## )", readme, re.S | re.M).group(0)
    documented = set(re.findall(r"`(-{1,2}[a-z][a-z-]*)", reference)) | set(re.findall(r" / `(--[a-z-]+)`", reference))
    group = typer.main.get_command(app)
    for name in ("check", "apply"):
        command = group.commands[name]
        flags = {flag for parameter in command.params for flag in (*parameter.opts, *parameter.secondary_opts) if flag.startswith("-")}
        flags -= {"--help"}
        assert flags - documented == set(), name


def test_a_file_that_cannot_be_written_is_reported_where_its_findings_still_are(mixed):
    mixed.chmod(0o444)
    try:
        result = invoke("apply", "--format", "concise", str(mixed))
    finally:
        mixed.chmod(0o644)
    assert result.exit_code == 2
    assert result.stderr == f"error: {mixed}: cannot write: file is read-only\n"
    assert mixed.read_text() == MIXED
    assert result.stdout.splitlines()[0].startswith(f"{mixed}:6:5: BNF101 ")  # the line in the file as it is on disk
