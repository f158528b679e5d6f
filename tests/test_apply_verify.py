"""`bnfix apply --verify`: repairs are written only when retraining shows they are not worse."""

from __future__ import annotations

import importlib.util
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


def test_verify_options_reach_the_verification(tmp_path, monkeypatch):
    target = tmp_path / SEED_EXAMPLE_2
    shutil.copy(FIXTURES / SEED_EXAMPLE_2, target)
    received = {}

    def verified(paths, settings, **options):
        received.update(options)
        return {path: (True, "fixed crash: the original fails") for path in paths}

    monkeypatch.setattr("bnfix.verify.command.verify_repairs", verified)
    arguments = ["--seeds", "2", "--timeout", "60", "--epochs", "1", "--steps", "5", "--max-samples", "10", "--keep-unverified"]
    result = runner.invoke(app, ["apply", "--verify", *arguments, str(target)])
    assert received == {"seeds": 2, "timeout": 60.0, "epochs": 1, "steps": 5, "max_samples": 10, "keep_unverified": True}
    assert "BatchNormalization(momentum=0.9)" in target.read_text() and "held back" not in result.output


def both_fail_the_same_way(plans, options, on_done=None):
    """run_plans as if both versions of every script failed to find their data (no training)."""
    from bnfix.verify.runner import ScriptRuns

    missing = {"type": "FileNotFoundError", "message": "data/train.csv not found.", "traceback": ""}
    crash = [{"seed": seed, "status": "crash", "error": missing, "fits": []} for seed in options.seeds]
    return [
        ScriptRuns(plan, original=crash, variants={variant.policy: crash for variant in plan.variants}) for plan in plans
    ]


def test_an_unverified_repair_is_held_back_and_says_why(tmp_path, monkeypatch):
    target = tmp_path / SEED_EXAMPLE_2
    shutil.copy(FIXTURES / SEED_EXAMPLE_2, target)
    original = target.read_bytes()
    monkeypatch.setattr("bnfix.verify.runner.run_plans", both_fail_the_same_way)
    result = runner.invoke(app, ["apply", "--verify", str(target)])
    assert target.read_bytes() == original
    assert (
        f"held back {target}: not verified: both versions fail with FileNotFoundError: data/train.csv not found. "
        "(--keep-unverified writes it anyway)"
    ) in " ".join(result.output.split())
    assert result.exit_code == 1


def test_keep_unverified_writes_the_repair_and_says_it_is_unverified(tmp_path, monkeypatch):
    target = tmp_path / SEED_EXAMPLE_2
    shutil.copy(FIXTURES / SEED_EXAMPLE_2, target)
    monkeypatch.setattr("bnfix.verify.runner.run_plans", both_fail_the_same_way)
    result = runner.invoke(app, ["apply", "--verify", "--keep-unverified", str(target)])
    assert "BatchNormalization(momentum=0.9)" in target.read_text()
    assert "written unverified (--keep-unverified): not verified: both versions fail" in " ".join(result.output.split())
    assert "held back" not in result.output


@pytest.mark.parametrize("command", [["verify"], ["apply", "--verify"]])
def test_without_keras_verify_says_which_extra_to_install_and_changes_nothing(tmp_path, monkeypatch, command):
    target = tmp_path / SEED_EXAMPLE_2
    shutil.copy(FIXTURES / SEED_EXAMPLE_2, target)
    original = target.read_bytes()
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "keras" else real_find_spec(name, *a))
    result = runner.invoke(app, [*command, str(target)])
    assert result.exit_code == 2
    assert "error: bnfix verify retrains scripts with Keras, which is not installed here: pip install 'bnfix[verify]'" in result.output
    assert target.read_bytes() == original
