"""Configuration lookup and validation; suppression comments found by the tokenizer only."""

from __future__ import annotations

import pytest

from bnfix.config import ConfigError, SelectionLayer, find_pyproject, load_settings, resolve_selection
from bnfix.rules import RULE_CODES
from bnfix.settings import PlacementPolicy, Settings
from bnfix.sources.suppressions import find_suppressions


def test_nearest_pyproject_with_a_bnfix_table_wins(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.bnfix]\npolicy = "pre"\nselect = ["BNF1"]\nkeras-version = "3.13"\n')
    nested = tmp_path / "pkg" / "sub"
    nested.mkdir(parents=True)
    (tmp_path / "pkg" / "pyproject.toml").write_text("[project]\nname = 'x'\n")  # no [tool.bnfix]: skipped
    assert find_pyproject(nested) == tmp_path / "pyproject.toml"
    settings = load_settings([nested], {"select": None})
    assert settings.policy is PlacementPolicy.PRE
    assert settings.select == ("BNF101", "BNF102", "BNF103", "BNF104")  # the prefix, resolved against the catalogue
    assert settings.keras_version == (3, 13)
    assert load_settings([nested], {"policy": PlacementPolicy.POST}).policy is PlacementPolicy.POST


@pytest.mark.parametrize(
    "table",
    ['policy = "sideways"', 'select = "BNF1"', 'unknown-option = 1', 'keras-version = "three"', "policy = "],
)
def test_invalid_configuration_is_a_clear_error(tmp_path, table):
    (tmp_path / "pyproject.toml").write_text(f"[tool.bnfix]\n{table}\n")
    with pytest.raises(ConfigError):
        load_settings([tmp_path], {})


def test_select_and_ignore_prefixes():
    settings = Settings(select=("BNF1", "BNF201"), ignore=("BNF103",))
    assert settings.is_enabled("BNF101")
    assert settings.is_enabled("BNF201")
    assert not settings.is_enabled("BNF103")
    assert not settings.is_enabled("BNF202")


@pytest.mark.parametrize(
    "layers, expected",
    [
        # Within a layer the more specific selector wins, whichever kind it is (ruff's specificity).
        ([("BNF2",), (), ("BNF201",)], ["BNF202", "BNF203", "BNF204"]),
        ([("BNF201",), (), ("BNF2",)], ["BNF201"]),
        ([("BNF201",), (), ("BNF201",)], []),  # equally specific: ignore wins
        ([("ALL",), (), ("BNF",)], []),
        ([None, ("BNF101",), ("BNF1",)], "all but BNF102-BNF104"),
    ],
)
def test_a_layers_more_specific_selector_wins(layers, expected):
    select, ignore = resolve_selection([SelectionLayer(*layers)])
    enabled = [code for code in RULE_CODES if Settings(select=select, ignore=ignore).is_enabled(code)]
    if expected == "all but BNF102-BNF104":
        expected = [code for code in RULE_CODES if code not in ("BNF102", "BNF103", "BNF104")]
    assert enabled == expected


def test_layers_follow_ruff_a_select_starts_over_and_an_ignore_only_layer_hands_its_ignores_on():
    def enabled(*layers):
        select, ignore = resolve_selection([SelectionLayer(*layer) for layer in layers])
        return [code for code in RULE_CODES if Settings(select=select, ignore=ignore).is_enabled(code)]

    bnf2 = [code for code in RULE_CODES if code.startswith("BNF2")]
    assert enabled((("BNF2",), (), ("BNF201",)), (None, ("BNF201",), ())) == bnf2
    assert enabled((("BNF2",), (), ("BNF201",)), (None, ("BNF201",), ("BNF2",))) == ["BNF201"]
    assert enabled(((), (), ("BNF201",)), (("BNF2",), (), ())) == bnf2[1:]  # `select = []`: its ignore carries on
    assert enabled((None, (), ("BNF201",)), (("BNF2",), (), ())) == bnf2  # a select starts over


def test_suppressions_cover_their_line_and_the_next_when_alone():
    source = (
        "a = 1  # bnfix: ignore[BNF101, BNF2]\n"
        "# noqa: BNF301\n"
        "b = 2\n"
        "c = 3  # noqa\n"
        "d = '# bnfix: ignore'\n"
    )
    found = find_suppressions(source)
    assert found.covers("BNF101", (1,)) and found.covers("BNF203", (1,))
    assert not found.covers("BNF301", (1,))
    assert found.covers("BNF301", (3,))
    assert found.covers("BNF999", (4,))  # a bare noqa covers every code
    assert not found.covers("BNF101", (5,))  # text inside a string is not a comment
    assert not found.covers("BNF101", (2,))


def test_trailing_suppression_does_not_leak_to_the_next_line():
    found = find_suppressions("a = 1  # bnfix: ignore\nb = 2\n")
    assert found.covers("BNF101", (1,))
    assert not found.covers("BNF101", (2,))
