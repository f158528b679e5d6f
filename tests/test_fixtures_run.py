"""The fixtures: each runs standalone (`python fixtures/x.py`), the seed's Example 2 crashes until BNF201 repairs
it, and each triggers the rule it is about, and only that one is repaired, so `bnfix verify` measures that repair."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bnfix.engine import check_source, fix_source
from bnfix.rules import ALL_RULES
from bnfix.fixes.safety import FixSafety
from bnfix.settings import PlacementPolicy, Settings

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
RULES = {rule.code: rule for rule in ALL_RULES}
SEED_EXAMPLE_2 = "seed_example2_moving_average_fraction.py"

PRE = Settings(policy=PlacementPolicy.PRE)
UNSAFE = Settings(unsafe_fixes=True)
# fixture -> (the rule it exercises, the settings under which that rule fires and is repaired); fixtures/README.md
EXERCISES: dict[str, tuple[str | None, Settings]] = {
    "seed_example1_placement.py": ("BNF101", PRE),
    SEED_EXAMPLE_2: ("BNF201", Settings()),
    "momentum_default_few_updates.py": ("BNF203", Settings()),
    "seed_example3_scaling.py": (None, Settings()),
    "raw_test_data.py": ("BNF403", Settings()),
    "scaler_refit_on_test.py": ("BNF401", Settings()),
    "scale_before_split.py": ("BNF404", Settings()),
    "functional_placement.py": ("BNF101", Settings()),
    "subclassed_placement.py": ("BNF101", Settings()),
    "resnet_block.py": ("BNF101", Settings()),
    "transfer_frozen_base.py": ("BNF302", Settings()),
    "pytorch_momentum.py": ("BNF202", UNSAFE),
    "inference_training_true.py": ("BNF301", UNSAFE),
    "tiny_batches.py": ("BNF204", Settings()),
    "dropout_then_bn.py": ("BNF102", Settings()),
}


def test_every_fixture_is_listed_here_and_in_the_readme():
    files = {path.name for path in FIXTURES.glob("*.py")}
    assert files == set(EXERCISES)
    readme = (FIXTURES / "README.md").read_text()
    assert all(f"`{name}`" in readme for name in files)


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_fixture_docstring_names_its_rule(name):
    code, _ = EXERCISES[name]
    docstring = (FIXTURES / name).read_text().split('"""')[1]
    assert ("Rules:" in docstring) and (code is None or code in docstring)


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_fixture_triggers_its_rule_and_only_that_repair(name):
    code, settings = EXERCISES[name]
    source = (FIXTURES / name).read_text()
    if code is not None and code not in RULES:
        pytest.skip(f"{code} is not in bnfix.rules.ALL_RULES yet")
    found = {d.code for d in check_source(source, settings).diagnostics}
    if code is None:
        assert not any(found_code.startswith("BNF4") for found_code in found)  # no preprocessing finding
        return
    assert code in found
    rule = RULES[code]
    repairable = rule.fix_safety is FixSafety.SAFE or (rule.fix_safety is FixSafety.UNSAFE and settings.unsafe_fixes)
    fixed = {d.code for d in fix_source(source, settings).fixed}
    # Unsafe fixes of other rules (BNF103) may join under --unsafe-fixes; safe repairs must be this rule's alone.
    others = {c for c in fixed - {code} if RULES[c].fix_safety is FixSafety.SAFE}
    assert (fixed >= {code} if repairable else code not in fixed) and not others


def test_resnet_block_moves_only_the_bn_outside_the_residual_sum():
    source = (FIXTURES / "resnet_block.py").read_text()
    result = fix_source(source, Settings(select=("BNF101",)))
    assert [d.line for d in result.fixed] == [source.splitlines().index("x = layers.BatchNormalization()(x)") + 1]
    assert "y = layers.BatchNormalization()(y)\nx = layers.add([shortcut, y])" in result.source
    assert fix_source(source, Settings(select=("BNF101",), policy=PlacementPolicy.PRE)).fixed == []


# ------------------------------------------------------------------------------------------- running them


def run_standalone(script: Path, cwd: Path) -> tuple[subprocess.CompletedProcess, float]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONDONTWRITEBYTECODE": "1"}
    start = time.perf_counter()
    result = subprocess.run([sys.executable, str(script)], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    return result, time.perf_counter() - start


@pytest.fixture(scope="session")
def standalone_runs():
    """Every fixture run as `python fixtures/x.py`, two at a time (the machines this runs on have 2 cores)."""
    names = sorted(EXERCISES)
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(names, pool.map(lambda name: run_standalone(FIXTURES / name, ROOT), names)))


@pytest.mark.training
@pytest.mark.parametrize("name", sorted(set(EXERCISES) - {SEED_EXAMPLE_2}))
def test_fixture_runs_standalone(standalone_runs, name):
    # How long it takes is a benchmark (bench/verify_bench.py, bench/README.md), not a test: a loaded CI machine
    # took 51 s for a fixture that takes 4 s alone.
    result, _ = standalone_runs[name]
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.training
def test_seed_example2_crashes_as_the_seed_has_it(standalone_runs):
    result, _ = standalone_runs[SEED_EXAMPLE_2]
    assert result.returncode != 0
    assert "ValueError: Unrecognized keyword arguments passed to BatchNormalization" in result.stderr
    assert "moving_average_fraction" in result.stderr


@pytest.mark.training
@pytest.mark.skipif("BNF201" not in RULES, reason="BNF201 is not in bnfix.rules.ALL_RULES yet")
def test_seed_example2_runs_after_fix_source(tmp_path):
    result = fix_source((FIXTURES / SEED_EXAMPLE_2).read_text(), Settings())
    assert "BNF201" in {d.code for d in result.fixed}
    script = tmp_path / SEED_EXAMPLE_2
    script.write_text(result.source)
    run, _ = run_standalone(script, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
