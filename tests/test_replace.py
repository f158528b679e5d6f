"""Rebuilding only the paths to the changed nodes gives what libcst's transformer gives, node for node."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest

from bnfix import engine
from bnfix.analysis.context import ModuleContext
from bnfix.analysis.node_index import NodeIndex
from bnfix.fixes.replace import UnsupportedReplacement, replace_nodes
from bnfix.rules import ALL_RULES, applicable_rules, enabled_codes
from bnfix.settings import PlacementPolicy, Settings

ROOT = Path(__file__).resolve().parent.parent
SOURCES = {
    **{f"fixtures/{path.name}": path.read_text(encoding="utf-8") for path in sorted((ROOT / "fixtures").glob("*.py"))},
    **{f"{rule.code}-invalid-{index}": example.code for rule in ALL_RULES for index, example in enumerate(rule.INVALID)},
}
POLICIES = [PlacementPolicy.POST, PlacementPolicy.PRE]


def _changes(source: str, settings: Settings) -> tuple[cst.Module, list[dict]]:
    """The module and the changes of every fix bnfix finds on it, as separate sets and as one pass's set."""
    module = engine.parse(source)
    ctx = ModuleContext(module, settings)
    rules = engine.screen(source, applicable_rules(source, enabled_codes(settings))).rules
    found = engine._lint(ctx, source, rules)
    fixes = [item.violation.fix for item in found if item.violation.fix is not None]
    chosen = [item.violation.fix for item in engine._non_overlapping(item for item in found if item.violation.fix)]
    together = {}
    for fix in chosen:
        together.update(fix.changes)
    return module, [dict(fix.changes) for fix in fixes] + ([together] if chosen else [])


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.value)
@pytest.mark.parametrize("name", list(SOURCES))
def test_replacing_equals_libcsts_transformer(name, policy):
    module, change_sets = _changes(SOURCES[name], Settings(policy=policy, unsafe_fixes=True))
    index = NodeIndex(module)
    for changes in change_sets:
        expected = module.visit(engine._NodeReplacer(changes))
        got = replace_nodes(module, index, changes)
        assert got.code == expected.code
        assert got.deep_equals(expected)


def test_a_change_inside_a_replaced_node_gives_way_to_it():
    module = cst.parse_module("f(g(1), 2)\n")
    call = module.body[0].body[0].value
    inner = call.args[0].value
    changes = {call: cst.parse_expression("h()"), inner: cst.parse_expression("k()")}
    assert replace_nodes(module, NodeIndex(module), changes).code == "h()\n"


def test_removal_and_splicing_in_sequences():
    module = cst.parse_module("a = 1\nb = 2\nc = 3\n")
    first, second, third = module.body
    changes = {first: cst.RemovalSentinel.REMOVE, third: cst.FlattenSentinel([cst.parse_statement("d = 4\n"), third])}
    assert replace_nodes(module, NodeIndex(module), changes).code == "b = 2\nd = 4\nc = 3\n"
    assert second in replace_nodes(module, NodeIndex(module), changes).body  # untouched subtrees are shared


def test_a_removal_where_libcst_holds_one_node_is_left_to_the_visitor():
    module = cst.parse_module("x = f(1)\n")
    call = module.body[0].body[0].value
    with pytest.raises(UnsupportedReplacement):
        replace_nodes(module, NodeIndex(module), {call.func: cst.RemovalSentinel.REMOVE})
