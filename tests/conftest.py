"""Suite-wide checks that ride along with every test that runs the engine in this process."""

from __future__ import annotations

import functools

import pytest

from bnfix import engine
from bnfix.analysis.context import ModuleContext
from bnfix.settings import Settings


@pytest.fixture(autouse=True)
def screened_out_rules_find_nothing(monkeypatch):
    """Every source any test checks or fixes: a rule `engine.screen` drops on CPython's tree, run anyway on libcst's
    tree, must report nothing. `Rule.may_report` is only a necessary condition; this holds every golden, example and
    fixture of the suite to it."""
    screen = engine.screen

    @functools.wraps(screen)  # the unconfirmed screen stays reachable as `engine.screen.__wrapped__`
    def screen_and_confirm(source, rules):
        screening = screen(source, rules)
        dropped = [rule for rule in rules if rule not in screening.rules]
        if dropped:
            ctx = ModuleContext(engine._parse(source, screening.problem), Settings())
            for rule in dropped:
                found = [violation.message for violation in rule().check(ctx)]
                assert not found, f"{rule.code}.may_report screened out a source it reports: {found}\n{source}"
        return screening

    monkeypatch.setattr(engine, "screen", screen_and_confirm)
