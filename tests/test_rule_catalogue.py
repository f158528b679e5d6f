"""The rule catalogue against the rule classes: every rule listed once, where it lives, with needles its own
findings never miss; and what the catalogue spares a run (a cached or BN-only file imports less)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import bnfix.rules
from bnfix.rules import ALL_RULES, CATALOGUE, RULE_CODES, _mentions_word, applicable_rules, mentions_needle, might_apply, rule_by_code
from bnfix.rules.base import Rule

from tests.test_startup import SMALL, _modules_imported_by


def _rule_classes_in_the_package() -> set[type[Rule]]:
    found = set()
    for module_info in pkgutil.iter_modules(bnfix.rules.__path__):
        module = importlib.import_module(f"bnfix.rules.{module_info.name}")
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, Rule) and value is not Rule and value.__module__ == module.__name__:
                found.add(value)
    return found


def test_the_catalogue_lists_every_rule_class_once_in_code_order():
    assert set(ALL_RULES) == _rule_classes_in_the_package()
    assert len(set(RULE_CODES)) == len(RULE_CODES) == len(ALL_RULES)
    assert list(RULE_CODES) == sorted(RULE_CODES)
    for entry, rule in zip(CATALOGUE, ALL_RULES):
        assert (rule.code, rule.__module__, rule.__name__) == (entry.code, f"bnfix.rules.{entry.module}", entry.class_name)
        assert entry.needles or entry.words, entry.code


def test_rule_by_code_finds_a_rule_whatever_its_case_and_nothing_else():
    assert rule_by_code("bnf101") is rule_by_code("BNF101") is ALL_RULES[0]
    assert rule_by_code("BNF999") is None


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda rule: rule.code)
def test_every_invalid_example_passes_its_rules_prefilter(rule):
    """A needle that misses a rule's own finding would silently turn the rule off for such files."""
    for example in rule.INVALID:
        assert mentions_needle(example.code, rule.code), example.code
        assert rule in applicable_rules(example.code, RULE_CODES)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("layers.Normalization()", True),
        ("from keras.layers import Normalization as N", True),
        ("Normalization", True),
        ("BatchNormalization()", False),
        ("LayerNormalization, GroupNormalization", False),
        ("NormalizationLayer _Normalization", False),
        ("BatchNormalization() + layers.Normalization()", True),
        ('"source": ["import keras\\nNormalization()"]', True),  # a notebook's JSON: the escape ends a line
    ],
)
def test_a_word_needle_needs_the_whole_word(text, found):
    assert _mentions_word(text, "Normalization") is found


def test_a_bn_file_does_not_need_the_normalization_rule():
    source = "from keras import layers\nbn = layers.BatchNormalization()\n"
    assert "BNF405" not in [rule.code for rule in applicable_rules(source, RULE_CODES)]
    assert not might_apply("import numpy as np\n", RULE_CODES)


def test_a_bn_file_is_checked_without_importing_the_mode_and_preprocessing_rules(tmp_path):
    (tmp_path / "bn.py").write_text(SMALL)
    completed, modules = _modules_imported_by(tmp_path, "check", "--format", "concise", "--no-cache", "--no-progress", "bn.py")
    assert completed.returncode == 1 and " BNF101 " in completed.stdout, completed.stderr
    assert "bnfix.rules.placement" in modules
    assert "bnfix.rules.preprocessing" not in modules and "bnfix.rules.mode" not in modules


@pytest.mark.parametrize("output_format", ["concise", "text"])
def test_a_cached_result_is_reported_without_importing_libcst_or_a_rule(tmp_path, output_format):
    (tmp_path / "bn.py").write_text(SMALL)
    command = ("check", "--format", output_format, "--no-progress", "bn.py")
    cold, cold_modules = _modules_imported_by(tmp_path, *command)
    warm, warm_modules = _modules_imported_by(tmp_path, *command)
    assert "libcst" in cold_modules  # the first run parsed the file and stored its result
    assert warm.returncode == cold.returncode == 1 and warm.stdout == cold.stdout and " BNF101 " in warm.stdout
    leaked = [name for name in warm_modules if name == "libcst" or name.startswith(("libcst.", "bnfix.rules.", "bnfix.engine"))]
    assert leaked == []
