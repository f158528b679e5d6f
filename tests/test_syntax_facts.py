"""The second prefilter: rules ruling themselves out on CPython's tree, so that libcst never parses such files.

tests/conftest.py also runs every screened-out rule on every source the suite checks, and fails if one reports.
"""

from __future__ import annotations

import ast

import libcst
import pytest

from bnfix import engine
from bnfix.analysis.syntax_facts import SyntaxFacts
from bnfix.engine import check_source, fix_source, screen
from bnfix.rules import ALL_RULES, RULE_CODES, applicable_rules
from bnfix.rules.base import Rule
from bnfix.rules.mode import FrozenBaseInTrainingMode, InferenceInTrainingMode
from bnfix.rules.preprocessing import AdaptOnAllData
from bnfix.settings import Settings

HEADER = "import numpy as np\nfrom tensorflow import keras\nfrom tensorflow.keras import layers\n"
SCREENING_RULES = [rule for rule in ALL_RULES if rule.may_report.__func__ is not Rule.may_report.__func__]


def facts(source: str) -> SyntaxFacts:
    return SyntaxFacts(ast.parse(source))


def test_the_rules_that_screen_themselves():
    assert [rule.code for rule in SCREENING_RULES] == ["BNF301", "BNF302", "BNF405"]


@pytest.mark.parametrize(
    ("rule", "index"),
    [(rule, index) for rule in SCREENING_RULES for index in range(len(rule.INVALID))],
    ids=lambda value: value.code if isinstance(value, type) else str(value),
)
def test_every_invalid_example_passes_its_rules_screen(rule, index):
    assert rule.may_report(facts(rule.INVALID[index].code))


@pytest.mark.parametrize(
    "source",
    [
        # A layer, not a model (keras's own tests): neither named like a model nor bound to a call's result.
        "def test_dropout(self):\n    out = layers.Dropout(0.5)(x, training=True)\n",
        "out = self.layer(x, training=True)\n",
        # The result thrown away: refreshing the statistics on purpose.
        "model(batch, training=True)\n",
        # Training steps and model definitions.
        "def train_step(x):\n    return model(x, training=True)\n",
        "class Net(keras.Model):\n    def call(self, x):\n        return x\n    def helper(self, x):\n        return self.model(x, training=True)\n",
        "async def build(x):\n    y = model(x, training=True)\n",
        # training=False, or a computed flag.
        "y = model(x, training=False)\n",
        "y = model(x, training=flag)\n",
    ],
)
def test_bnf301_is_screened_out_where_it_cannot_report(source):
    assert not InferenceInTrainingMode.may_report(facts(HEADER + source))


@pytest.mark.parametrize(
    "source",
    [
        "y = model(x, training=True)\n",
        "net = build()\ny = net(x, training=True)\n",  # bound to a call: may be a model
        "a, net = f(), build()\ny = [net(s, training=True) for s in xs]\n",
        "def evaluate(x):\n    return my_model(x, training=True)\n",
    ],
)
def test_bnf301_keeps_what_may_be_a_prediction(source):
    assert InferenceInTrainingMode.may_report(facts(HEADER + source))


@pytest.mark.parametrize(
    ("source", "may_report"),
    [
        ("base.trainable = False\nx = base(inputs)\n", True),
        ("model.base.trainable = False\nx = model.base(inputs)\n", True),
        ("base.trainable = False\n", False),  # never called
        ("base.trainable = True\nx = base(inputs)\n", False),  # not frozen
        ("base.trainable = False\nx = base(inputs, training=False)\n", False),
        ("base.trainable = False\nx = base(*inputs)\n", False),
        ("base.trainable = False\nx = base(**kwargs)\n", False),
        ("base.trainable = False\nx = base()\n", False),
        ("layer.trainable = False\nx = base(inputs)\n", False),
    ],
)
def test_bnf302_screen(source, may_report):
    assert FrozenBaseInTrainingMode.may_report(facts(HEADER + source)) is may_report


@pytest.mark.parametrize(
    ("source", "may_report"),
    [
        ("norm = layers.Normalization()\nnorm.adapt(x)\n", True),
        ("from keras.layers import Normalization as N\nnorm = N()\nnorm.adapt(x)\n", True),
        ("norm = layers.Normalization()\n", False),  # nothing adapted
        ("bn = layers.BatchNormalization()\nmodel.fit(x, y)\n", False),  # the needle matched BatchNormalization
        ("ln = layers.LayerNormalization()\nln.adapt(x)\n", False),
    ],
)
def test_bnf405_screen(source, may_report):
    assert AdaptOnAllData.may_report(facts(HEADER + source)) is may_report


def test_a_file_no_rule_survives_is_never_given_to_libcst(monkeypatch):
    source = HEADER + "def test_dropout(self):\n    out = layers.Dropout(0.5)(x, training=True)\n"
    assert applicable_rules(source, RULE_CODES)  # the bytes let it through

    def refuse(_source):
        raise AssertionError("libcst parsed a file no rule can report on")

    monkeypatch.setattr(engine, "screen", engine.screen.__wrapped__)  # conftest's confirmation parses with libcst
    monkeypatch.setattr(libcst, "parse_module", refuse)
    assert check_source(source, Settings()).diagnostics == []
    assert fix_source(source, Settings()).source == source


def test_a_source_cpython_refuses_keeps_every_rule():
    rules = applicable_rules("model(x, training=True\n", RULE_CODES)
    screening = screen("model(x, training=True\n", rules)
    assert screening.rules == rules and screening.tree is None
    assert screening.problem is not None and "syntax error" in screening.problem.message


def test_enclosing_scopes_follow_the_nesting():
    source = "class A:\n    def f(self):\n        g(1)\n    h(2)\nk(3)\n"
    found = facts(source)
    by_argument = {call.args[0].value: [scope.name for scope in found.enclosing_scopes(call)] for call in found.calls}
    assert by_argument == {1: ["A", "f"], 2: ["A"], 3: []}


def test_names_bound_to_calls_cover_every_assignment_form():
    source = "a = f()\nb: M = g()\nc, (d, *e) = h(), i()\nif (w := j()):\n    pass\nx = y\n"
    assert facts(source).names_bound_to_calls == {"a", "b", "c", "d", "e", "w"}
