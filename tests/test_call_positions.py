"""Calls and arguments placed from CPython's tree are where the generated code places them (analysis/positions.py,
itself PositionProvider's ranges); what CPython places differently is left to the generated code."""

from __future__ import annotations

import ast

import libcst as cst
import pytest

from bnfix import engine
from bnfix.analysis.call_positions import CallPositions
from bnfix.analysis.node_index import NodeIndex
from bnfix.analysis.positions import Positions
from bnfix.analysis.syntax_facts import SyntaxFacts
from bnfix.settings import Settings
from tests.test_statement_chunks import SOURCES

AWKWARD = {
    "parenthesised": "f((a), k=(b), *(c,))\n(g)(x)\n(h(y))\n((i))(z)\n",
    "generators": "sum(x for x in y)\nsorted((x for x in y), key=k)\n",
    "chained and nested": "f(a)(b)(c)\nf(g(h(1)), k=g(2))\nx.y(1).z(2)\n",
    "stars": "f(*a, **b)\nf(a, *b, c=1, **d)\nf(c=1, *b)\nf(**{'a': 1})\n",
    "decorators and lambdas": "@d(1)\n@e.f(g(2))\ndef h(x=i(3)):\n    return (lambda: j(4))()\n",
    "f-strings": "s = f'{f(1)} and {g(h(2))!r:>{w(3)}}'\nt = f(f'{x}', k(1))\nu = f'''\n{m(\n  1)}\n'''\n",
    "strings and continuations": 'f("""\nlong""", b)\ng(1, \\\n  2)\nh("a" "b", "é")\n',
    "unicode": "données = charge('é', clé=ça(1))\nπ = f('日本', 𝔵=1)\n",
    "tabs": "def f():\n\tif x:\n\t\treturn g(x,\n\t\t         y, k=h(1))\n",
    "comments inside": "f(a,  # first\n  b=1,  # second\n)\n",
    "subscripts and calls in calls": "f(a[g(1)], {h(2): i(3)}, [j(4) for _ in k(5)])\n",
}
CASES = {**{name: text for name, text in SOURCES.items() if not name.startswith("bnfix/")}, **AWKWARD}


def call_positions(source: str) -> tuple[CallPositions, NodeIndex, cst.Module]:
    module = cst.parse_module(source)
    index = NodeIndex(module)
    facts = SyntaxFacts(ast.parse(source))
    return CallPositions(source, facts.calls, facts.fstrings, index), index, module


@pytest.mark.parametrize("name", list(CASES))
def test_every_call_and_argument_placed_is_where_the_generated_code_places_it(name):
    source = CASES[name]
    placed, index, module = call_positions(source)
    generated = Positions(module)
    nodes = [node for call in index.calls for node in (call, *call.args)]
    for node in nodes:
        where = placed.range_of(node)
        if where is not None:
            assert where == generated[node], cst.Module([]).code_for_node(node)


def test_most_calls_and_arguments_are_placed():
    total = placed_count = 0
    for source in CASES.values():
        placed, index, _ = call_positions(source)
        nodes = [node for call in index.calls for node in (call, *call.args)]
        total += len(nodes)
        placed_count += sum(placed.range_of(node) is not None for node in nodes)
    assert total > 1000 and placed_count > 0.9 * total


@pytest.mark.parametrize(
    "source, left",
    [
        ("f((a))\n", ["(a)"]),  # libcst's argument holds the parentheses, CPython's not
        ("sum(x for x in y)\n", ["x for x in y"]),  # CPython's generator holds the call's parentheses
        ("s = f'{g(1)}'\n", ["g(1)", "1"]),  # inside an f-string
    ],
)
def test_what_cpython_places_differently_is_left_to_the_generated_code(source, left):
    placed, index, _ = call_positions(source)
    nodes = [node for call in index.calls for node in (call, *call.args)]
    assert sorted(cst.Module([]).code_for_node(node) for node in nodes if placed.range_of(node) is None) == sorted(left)


def test_two_trees_that_disagree_place_nothing():
    source = "f(1)\ng(2)\n"
    module = cst.parse_module(source)
    other = SyntaxFacts(ast.parse("g(1)\nf(2)\n"))  # the same shape, other callees: a pairing gone wrong
    placed = CallPositions(source, other.calls, other.fstrings, NodeIndex(module))
    assert all(placed.range_of(call) is None for call in NodeIndex(module).calls)
    assert placed.placed_calls == 0
    assert call_positions(source)[0].placed_calls == 2


@pytest.mark.parametrize("name", ["fixtures/functional_placement.py", "unicode", "f-strings", "crlf", "tabs"])
def test_findings_are_placed_as_before(name, monkeypatch):
    """The engine's findings, with calls placed from CPython's tree, and with every position generated."""
    source = CASES[name]
    settings = Settings(unsafe_fixes=True)
    placed = [engine.check_source(source, settings), engine.check_source(source, settings, engine.EditorDocument())]
    monkeypatch.setattr(CallPositions, "range_of", lambda self, node: None)
    generated = engine.check_source(source, settings)
    assert all(result == generated for result in placed)
