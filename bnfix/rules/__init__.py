"""The rule catalogue: every rule class, in code order."""

from __future__ import annotations

from bnfix.rules.base import Rule
from bnfix.rules.placement import BNPlacement
from bnfix.settings import Settings

ALL_RULES: tuple[type[Rule], ...] = tuple(
    sorted(
        [
            BNPlacement,
        ],
        key=lambda rule: rule.code,
    )
)


def rule_by_code(code: str) -> type[Rule] | None:
    return next((rule for rule in ALL_RULES if rule.code == code.upper()), None)


def enabled_rules(settings: Settings) -> list[type[Rule]]:
    return [rule for rule in ALL_RULES if settings.is_enabled(rule.code)]
