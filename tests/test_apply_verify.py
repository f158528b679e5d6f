"""`bnfix apply --verify`: repairs are written only when retraining shows they are not worse."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bnfix.cli import app

runner = CliRunner()
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SEED_EXAMPLE_2 = "seed_example2_moving_average_fraction.py"


def test_a_worse_repair_is_held_back_and_reported(tmp_path, monkeypatch):
    target = tmp_path / SEED_EXAMPLE_2
    shutil.copy(FIXTURES / SEED_EXAMPLE_2, target)
    original = target.read_bytes()
    calls = []

    def judged_worse(paths, settings, **options):
        calls.append(paths)
        return {path: (False, "worse: test loss 0.10 -> 0.90") for path in paths}

    monkeypatch.setattr("bnfix.verify.command.verify_repairs", judged_worse)
    result = runner.invoke(app, ["apply", "--verify", str(target)])
    assert calls == [[target]]
    assert target.read_bytes() == original
    assert "held back" in result.output and "worse: test loss 0.10 -> 0.90" in result.output
    assert result.exit_code == 1  # the finding remains


@pytest.mark.training
def test_a_repair_that_fixes_a_crash_is_written(tmp_path):
    target = tmp_path / SEED_EXAMPLE_2
    shutil.copy(FIXTURES / SEED_EXAMPLE_2, target)
    result = runner.invoke(app, ["apply", "--verify", str(target)])
    assert "held back" not in result.output
    assert "BatchNormalization(moving_average_fraction=" not in target.read_text()
    assert "BatchNormalization(momentum=0.9)" in target.read_text()
