"""The shared assignment record: every binding event of a module, found in one walk, read by both `bindings` (the
BN rules, BNF101 constants) and `dataflow` (the preprocessing rules)."""

from __future__ import annotations

import textwrap

import libcst as cst

from bnfix.analysis import assignments as assignments_module
from bnfix.analysis.assignments import assignments
from bnfix.analysis.bindings import bindings
from bnfix.analysis.context import ModuleContext
from bnfix.analysis.dataflow import module_flows
from bnfix.settings import Settings


def context(source: str) -> ModuleContext:
    module = cst.parse_module(textwrap.dedent(source))
    return ModuleContext(module, Settings())


def events(source: str) -> list[tuple[str, str, tuple, bool]]:
    ctx = context(source)
    return [(a.kind, a.name, a.path, a.in_place) for a in assignments(ctx).events]


def test_plain_annotated_and_augmented_assignments_in_source_order():
    assert events("""\
        x = 1
        y: int = x
        x += y
    """) == [("assign", "x", (), False), ("annotated", "y", (), False), ("augmented", "x", (), False)]


def test_tuple_targets_record_each_names_place():
    ctx = context("a, (b, *c) = d = value\n")
    found = assignments(ctx).events
    assert [(a.name, a.path, a.plain) for a in found] == [
        ("a", ((0, 2),), False), ("b", ((1, 2), (0, 2)), False), ("c", ((1, 2), (1, 2)), False), ("d", (), True),
    ]
    assert all(cst.ensure_type(a.value, cst.Name).value == "value" for a in found)


def test_attribute_and_subscript_targets_change_their_base_in_place():
    assert events("""\
        df["a"] = 1
        model.layers[0].trainable = False
        del x[0], y
    """) == [("assign", "df", (), True), ("assign", "model", (), True), ("del", "x", ((0, 2),), True),
             ("del", "y", ((1, 2),), False)]


def test_every_other_way_of_binding_a_name():
    found = events("""\
        import numpy as np, os.path
        from a import b
        global g
        for i, j in pairs:
            pass
        with open(p) as f:
            pass
        try:
            pass
        except E as e:
            pass
        if (n := 3):
            pass
        def fit(model, *args, epochs=1):
            nonlocal k
        class Net:
            pass
    """)
    assert [(kind, name) for kind, name, _, _ in found] == [
        ("import", "np"), ("import", "os"), ("import", "b"), ("global", "g"), ("for", "i"), ("for", "j"),
        ("with", "f"), ("except", "e"), ("walrus", "n"), ("def", "fit"), ("parameter", "model"),
        ("parameter", "epochs"), ("parameter", "args"), ("nonlocal", "k"), ("def", "Net"),
    ]  # `*args` after the named parameters: they all bind at the `def`


def test_scopes_are_the_module_and_function_bodies():
    ctx = context("""\
        x = 1
        @decorate(d := 1)
        def f(a=(b := 2)):
            y = [z := i for i in x]
            return y
        class C:
            w = 1
    """)
    record = assignments(ctx)
    function = next(node for node in ctx.module.body if isinstance(node, cst.FunctionDef))
    assert [a.name for a in record.in_scope(ctx.module)] == ["x", "f", "C"]
    assert [a.name for a in record.in_scope(function)] == ["a", "y"]
    assert {a.name: a.scope for a in record.events}["d"] is None  # a decorator runs in no body bindings reads
    assert [a.name for a in record.within(function)] == ["d", "f", "b", "y", "z"]  # decorators included


def test_bindings_and_dataflow_read_one_record_built_once(monkeypatch):
    built = []
    original = assignments_module.Assignments

    def counting(*args):
        built.append(args)
        return original(*args)

    monkeypatch.setattr(assignments_module, "Assignments", counting)
    ctx = context("""\
        from sklearn.preprocessing import StandardScaler
        scaler = StandardScaler()
        x = scaler.fit_transform(data)
    """)
    x = cst.ensure_type(cst.ensure_type(ctx.module.body[2], cst.SimpleStatementLine).body[0], cst.Assign)
    assert bindings(ctx).before("scaler", x.value) is not None
    flows = module_flows(ctx)
    assert flows and flows[0].fits
    assert len(built) == 1
    assert assignments(ctx) is ctx.shared("assignments", lambda: None)
