"""bnfix's positions equal libcst's PositionProvider for every node: the same ranges at a quarter of the cost."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from bnfix.analysis.positions import Positions
from bnfix.rules import ALL_RULES

ROOT = Path(__file__).resolve().parent.parent
EDGE_CASES = {
    "empty": "",
    "no trailing newline": "x = 1",
    "crlf": "import keras\r\nif x:\r\n    y = keras.layers.Dense(3)(\r\n        x)\r\n",
    "lone cr": "x = 1\ry = 2\r",
    "tabs": "def f():\n\tif x:\n\t\treturn g(x,\n\t\t         y)\n",
    "comments and blank lines": "# header\n\n\n# lead\nx = 1  # trailing\n\n# footer\n",
    "decorators and classes": "@dec(1)\n@other\nclass A(B, metaclass=M):\n    @property\n    def f(self) -> int: return 1\n",
    "strings": 'x = f"{a!r:>{w}}" + """\nline\n""" + b"\\x00"\n',
    "unicode": "naïve = 'é' + '日本'  # ü\nπ = 3.14\n",
    "semicolons and continuation": "a = 1; b = 2\nc = a + \\\n    b\n",
    "match and lambda": "match x:\n    case [1, *rest] if rest:\n        f = lambda *a, **k: (a, k)\n",
}
SOURCES = {
    **{name: text for name, text in EDGE_CASES.items()},
    **{f"fixtures/{path.name}": path.read_text(encoding="utf-8") for path in sorted((ROOT / "fixtures").glob("*.py"))},
    **{f"{rule.code} example {index}": example.code for rule in ALL_RULES for index, example in enumerate(rule.INVALID + rule.VALID)},
    "bnfix/engine.py": (ROOT / "bnfix" / "engine.py").read_text(encoding="utf-8"),
}


@pytest.mark.parametrize("name", list(SOURCES))
def test_every_node_has_position_providers_range(name):
    module = cst.parse_module(SOURCES[name])
    expected = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    positions = Positions(module)
    mismatched = [(type(node).__name__, want, positions[node]) for node, want in expected.items() if positions[node] != want]
    assert mismatched == []
    assert all(node in positions for node in expected)


@pytest.mark.parametrize("name", list(SOURCES))
def test_positions_of_some_nodes_are_the_same_ranges(name):
    module = cst.parse_module(SOURCES[name])
    expected = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    nodes = list(expected)
    for chosen in (nodes[::7], nodes[3::11], [node for node in nodes if isinstance(node, cst.BaseStatement)]):
        some = Positions(module, chosen)
        assert [some[node] for node in chosen] == [expected[node] for node in chosen]


@pytest.mark.parametrize("name", list(SOURCES))
def test_the_pass_also_gives_the_modules_code(name):
    module = cst.parse_module(SOURCES[name])
    assert Positions(module).code == module.code
    assert Positions(module, list(module.body)[:1]).code == module.code
