"""Every rule's own VALID and INVALID examples, as tests (Fixit's model): adding a rule adds its tests."""

from __future__ import annotations

import pytest

from bnfix.engine import check_source, fix_source, parse
from bnfix.rules import ALL_RULES
from tests.helpers import settings_for

VALID_CASES = [
    pytest.param(rule, example, id=f"{rule.code}-valid-{index}")
    for rule in ALL_RULES
    for index, example in enumerate(rule.VALID)
]
INVALID_CASES = [
    pytest.param(rule, example, id=f"{rule.code}-invalid-{index}")
    for rule in ALL_RULES
    for index, example in enumerate(rule.INVALID)
]


@pytest.mark.parametrize(("rule", "example"), VALID_CASES)
def test_valid_example_is_left_alone(rule, example):
    settings = settings_for(rule.code, **example.options)
    assert [d.code for d in check_source(example.code, settings).diagnostics] == []
    assert fix_source(example.code, settings).source == example.code


@pytest.mark.parametrize(("rule", "example"), INVALID_CASES)
def test_invalid_example_is_reported_and_fixed(rule, example):
    settings = settings_for(rule.code, **example.options)
    found = check_source(example.code, settings).diagnostics
    assert rule.code in [d.code for d in found]
    result = fix_source(example.code, settings)
    expected = example.code if example.expected is None else example.expected
    assert result.source == expected
    parse(result.source)
    assert fix_source(result.source, settings).source == result.source  # stable: a second apply changes nothing


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda rule: rule.code)
def test_rule_is_documented(rule):
    docs = rule.documentation()
    for section in ("## What it does", "## Why is this bad?", "## Example", "## Fix safety"):
        assert section in docs, f"{rule.code} docs lack {section!r}"
    assert rule.VALID and rule.INVALID, f"{rule.code} needs VALID and INVALID examples"
    assert rule.code.startswith("BNF") and rule.summary and rule.name


def test_codes_are_unique():
    codes = [rule.code for rule in ALL_RULES]
    assert len(codes) == len(set(codes))
