"""Every command and exit code through typer's runner, stdin mode included; files on disk change only on apply."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bnfix.cli import app

runner = CliRunner()

BROKEN_PLACEMENT = textwrap.dedent(
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
FIXED_PLACEMENT = BROKEN_PLACEMENT.replace(
    '    layers.BatchNormalization(),\n    layers.Activation("relu"),\n',
    '    layers.Activation("relu"),\n    layers.BatchNormalization(),\n',
).replace("Dense(64, use_bias=False)", "Dense(64)")  # BN no longer follows Dense: its bias comes back
CLEAN = "import numpy as np\n\nprint(np.zeros(3))\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "model.py").write_text(BROKEN_PLACEMENT)
    (tmp_path / "pkg" / "clean.py").write_text(CLEAN)
    return tmp_path


def invoke(*args: str, input: str | None = None):
    return runner.invoke(app, list(args), input=input)


def test_check_reports_and_exits_1_without_writing(project):
    result = invoke("check", str(project))
    assert result.exit_code == 1
    assert "model.py:6:5: BNF101 [*]" in result.stdout
    assert "Found 1 finding." in result.stdout
    assert (project / "pkg" / "model.py").read_text() == BROKEN_PLACEMENT


def test_check_on_clean_code_exits_0(project):
    result = invoke("check", str(project / "pkg" / "clean.py"))
    assert result.exit_code == 0
    assert "All checks passed." in result.stdout


def test_apply_rewrites_in_place_and_a_second_apply_changes_nothing(project):
    target = project / "pkg" / "model.py"
    first = invoke("apply", str(project))
    assert first.exit_code == 0, first.stdout
    assert "Fixed 1 finding (0 remaining)." in first.stdout
    assert target.read_text() == FIXED_PLACEMENT
    before = target.stat().st_mtime_ns
    second = invoke("apply", str(project))
    assert second.exit_code == 0
    assert target.read_text() == FIXED_PLACEMENT
    assert target.stat().st_mtime_ns == before  # unchanged files are not rewritten


def test_apply_diff_prints_a_diff_and_writes_nothing(project):
    result = invoke("apply", "--diff", str(project))
    assert result.exit_code == 1
    changed = [line for line in result.stdout.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    # Lines paired as git pairs them: the bias comes back on Dense, and the BN line moves below the activation.
    assert changed == [
        "-    layers.Dense(64, use_bias=False),",
        "-    layers.BatchNormalization(),",
        "+    layers.Dense(64),",
        "+    layers.BatchNormalization(),",
    ]
    assert result.stdout.startswith("--- ")
    assert (project / "pkg" / "model.py").read_text() == BROKEN_PLACEMENT


def test_apply_diff_on_clean_code_exits_0_and_prints_nothing(project):
    result = invoke("apply", "--diff", str(project / "pkg" / "clean.py"))
    assert result.exit_code == 0
    assert result.stdout == ""


def test_policy_flag_reverses_the_repair(project):
    target = project / "pkg" / "model.py"
    target.write_text(FIXED_PLACEMENT)
    assert invoke("check", str(target)).exit_code == 0
    # Under `pre` BN moves back before the activation; dropping the now-cancelled bias is BNF103's unsafe fix.
    result = invoke("apply", "--policy", "pre", "--unsafe-fixes", str(target))
    assert result.exit_code == 0
    assert target.read_text() == BROKEN_PLACEMENT


def test_stdin_apply_writes_fixed_source_to_stdout():
    result = invoke("apply", "-", "--stdin-filename", "model.py", input=BROKEN_PLACEMENT)
    assert result.exit_code == 0
    assert result.stdout == FIXED_PLACEMENT


def test_stdin_filename_alone_reads_stdin_and_other_paths_are_ignored_with_a_warning(tmp_path):
    result = invoke("apply", "--stdin-filename", "model.py", input=BROKEN_PLACEMENT)
    assert (result.exit_code, result.stdout, result.stderr) == (0, FIXED_PLACEMENT, "")
    other = tmp_path / "other.py"
    other.write_text(BROKEN_PLACEMENT)
    result = invoke("check", "--stdin-filename", "model.py", "--format", "concise", str(other), input=FIXED_PLACEMENT)
    assert (result.exit_code, result.stdout) == (0, "")
    assert result.stderr == f"warning: ignoring {other}: --stdin-filename reads the source from stdin\n"


def test_stdin_check_reports_with_the_given_name():
    result = invoke("check", "-", "--stdin-filename", "src/model.py", "--format", "concise", input=BROKEN_PLACEMENT)
    assert result.exit_code == 1
    assert result.stdout.startswith("src/model.py:6:5: BNF101 ")


def test_stdin_syntax_error_returns_the_buffer_unchanged_and_exits_2():
    broken = "from keras.layers import BatchNormalization\ndef f(:\n    pass\n"
    result = invoke("apply", "-", "--stdin-filename", "x.py", input=broken)
    assert result.exit_code == 2
    assert result.stdout.startswith(broken)
    assert "syntax error" in result.output


@pytest.mark.parametrize(
    "arguments, message",
    [(["--policy", "zzz"], "--policy"), (["--select", "BNF999"], "BNF999"), (["--config", "missing.toml"], "missing.toml")],
)
def test_stdin_repair_with_a_usage_error_returns_the_buffer_unchanged_and_exits_2(arguments, message):
    result = invoke("apply", "-", "--stdin-filename", "model.py", *arguments, input=BROKEN_PLACEMENT)
    assert (result.exit_code, result.stdout) == (2, BROKEN_PLACEMENT)
    assert result.stderr.startswith("error: ") and message in result.stderr


def test_syntax_error_file_is_reported_left_untouched_and_others_still_fixed(project):
    bad = project / "pkg" / "bad.py"
    bad_bytes = b"import keras\nmodel = keras.Sequential([\n    keras.layers.BatchNormalization(\n"
    bad.write_bytes(bad_bytes)
    result = invoke("apply", str(project))
    assert result.exit_code == 2
    assert "bad.py:" in result.stdout and "syntax error" in result.stdout
    assert bad.read_bytes() == bad_bytes
    assert (project / "pkg" / "model.py").read_text() == FIXED_PLACEMENT


def test_concise_and_json_formats(project):
    concise = invoke("check", "--format", "concise", str(project))
    line = concise.stdout.strip()
    assert line.endswith("BNF101 [*] BatchNormalization before the 'relu' activation; policy 'post' puts it after (layer -> activation -> BN)")
    assert line.count("\n") == 0
    rows = json.loads(invoke("check", "--format", "json", str(project)).stdout)
    assert [row["code"] for row in rows] == ["BNF101"]
    assert rows[0]["location"] == {"row": 6, "column": 5}
    assert rows[0]["fix"]["applicability"] == "safe"


def test_select_and_ignore(project):
    assert invoke("check", "--ignore", "BNF101", str(project)).exit_code == 0
    assert invoke("check", "--select", "BNF2", str(project)).exit_code == 0
    assert invoke("check", "--select", "bnf1", str(project)).exit_code == 1


def test_quiet_prints_only_findings(project):
    result = invoke("check", "--quiet", str(project))
    assert result.exit_code == 1
    assert "Found" not in result.stdout and "BNF101" in result.stdout


def test_pyproject_configuration_and_flag_override(project):
    (project / "pyproject.toml").write_text('[tool.bnfix]\npolicy = "pre"\n')
    target = project / "pkg" / "model.py"
    target.write_text(FIXED_PLACEMENT)
    assert invoke("check", str(target)).exit_code == 1  # pre wants BN before the activation
    assert invoke("check", "--policy", "post", str(target)).exit_code == 0


def test_bad_configuration_exits_2(project):
    (project / "pyproject.toml").write_text('[tool.bnfix]\npolicy = "sideways"\n')
    result = invoke("check", str(project))
    assert result.exit_code == 2
    assert "policy must be one of" in result.output


def test_usage_errors_exit_2(project):
    assert invoke("check", "--policy", "sideways", str(project)).exit_code == 2
    assert invoke("check", "--format", "xml", str(project)).exit_code == 2
    assert invoke("check", str(project / "missing.py")).exit_code == 2
    assert invoke("explain", "BNF999").exit_code == 2


def test_exclude_and_gitignore(project):
    (project / ".gitignore").write_text("pkg/model.py\n")
    assert invoke("check", str(project)).exit_code == 0
    assert invoke("check", str(project / "pkg" / "model.py")).exit_code == 1  # named explicitly
    (project / ".gitignore").unlink()
    assert invoke("check", "--exclude", "model.py", str(project)).exit_code == 0


def test_rules_and_explain():
    listing = invoke("rules")
    assert listing.exit_code == 0
    assert listing.stdout.startswith("BNF101  bn-placement")
    explained = invoke("explain", "bnf101")
    assert explained.exit_code == 0
    for section in ("## What it does", "## Why is this bad?", "## Example", "## Fix safety"):
        assert section in explained.stdout


def test_suppression_comments(project):
    target = project / "pkg" / "model.py"
    for comment in ("# bnfix: ignore", "# bnfix: ignore[BNF101]", "# noqa: BNF101"):
        target.write_text(BROKEN_PLACEMENT.replace("layers.BatchNormalization(),", f"layers.BatchNormalization(),  {comment}"))
        assert invoke("check", str(target)).exit_code == 0, comment
    target.write_text(BROKEN_PLACEMENT.replace("layers.BatchNormalization(),", "layers.BatchNormalization(),  # noqa: BNF201"))
    assert invoke("check", str(target)).exit_code == 1


def test_python_dash_m_runs_the_cli(project):
    import subprocess
    import sys

    completed = subprocess.run(
        [sys.executable, "-m", "bnfix", "check", "--format", "concise", str(project)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    assert completed.returncode == 1
    assert "BNF101" in completed.stdout
