"""bnfix's own traversal agrees with libcst's: same children, same order, same parents, same visitor calls."""

from __future__ import annotations

import textwrap
from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, ParentNodeProvider

from bnfix.analysis.node_index import UNINDEXED, NodeIndex, all_nodes, children, names_in, walk

ROOT = Path(__file__).resolve().parent.parent

# Fields whose declaration order is not source order (decorators, `async`, f-string parts), and most syntax.
SYNTAX = textwrap.dedent(
    '''\
    """Module docstring."""
    from __future__ import annotations
    import os.path as osp, sys
    from .pkg import (a as b, c)
    from x import *

    @decorator(arg=1)
    @other
    async def f(a, /, b: int = 2, *args, c, d=3, **kwargs) -> list[int]:
        global g
        async with ctx() as (x, y), other():
            async for item in aiter():
                await item
        return [i async for i in gen() if i if not i]

    class C(Base, metaclass=Meta):
        attr: int = 1
        def method(self):
            nonlocal_value = lambda q, *r, s=1: q @ r
            yield from (x for x in range(3))
            return {**self.__dict__, "k": [*a, *b]}, {1, 2}, {k: v for k, v in d.items()}

    match command.split():
        case [action, *rest] if action:
            pass
        case {"key": value, **others}:
            pass
        case Point(x=0, y=0) | None:
            pass
        case _:
            pass

    try:
        x = y if z else w
        x += 1
        del a[1:2, ::3], b.c
    except* (ValueError, TypeError) as error:
        raise RuntimeError("no") from error
    else:
        assert x, f"{x!r:>{width}} {y=} {{}}"
    finally:
        print(not x, -x, ~x, x ** -y, x < y <= z is not w in v)

    while (n := n - 1) > 0:
        if n % 2:
            continue
        elif n == 3:
            break
    else:
        pass
    with open(p) as handle, other: pass
    for i, (j, k) in enumerate(pairs): print(i, j, k, sep="", end=None); x = 1
    type_alias: "Alias" = ...
    '''
)


def _sources() -> list[tuple[str, str]]:
    files = [*sorted((ROOT / "fixtures").glob("*.py")), *sorted((ROOT / "bnfix" / "analysis").glob("*.py"))]
    return [("syntax", SYNTAX)] + [(str(path.relative_to(ROOT)), path.read_text(encoding="utf-8")) for path in files]


SOURCES = _sources()


class _Recorder(cst.CSTVisitor):
    def __init__(self) -> None:
        self.events: list[tuple[str, int]] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        self.events.append(("visit", id(node)))
        return True

    def on_leave(self, original_node: cst.CSTNode) -> None:
        self.events.append(("leave", id(original_node)))


class _Hooks(cst.CSTVisitor):
    """The shape of bnfix's analyses: `visit_X` hooks, one of which prunes, and `leave_X` hooks."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, int]] = []

    def visit_Call(self, node: cst.Call) -> None:
        self.events.append(("call", cst.Module([]).code_for_node(node.func), id(node)))

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        self.events.append(("lambda", "", id(node)))
        return False  # nothing inside a lambda is visited

    def visit_Name(self, node: cst.Name) -> None:
        self.events.append(("name", node.value, id(node)))

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.events.append(("leave def", original_node.name.value, id(original_node)))


@pytest.mark.parametrize("name, source", SOURCES, ids=[name for name, _ in SOURCES])
def test_walk_calls_a_visitor_exactly_as_libcst_does(name: str, source: str) -> None:
    module = cst.parse_module(source)
    for visitor_class in (_Recorder, _Hooks):
        expected, got = visitor_class(), visitor_class()
        module.visit(expected)
        walk(module, got)
        assert got.events == expected.events


@pytest.mark.parametrize("name, source", SOURCES, ids=[name for name, _ in SOURCES])
def test_the_index_has_libcsts_children_parents_and_source_order(name: str, source: str) -> None:
    module = cst.parse_module(source)
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    parents = wrapper.resolve(ParentNodeProvider)
    index = NodeIndex(module)
    recorder = _Recorder()
    module.visit(recorder)
    visited = [node_id for event, node_id in recorder.events if event == "visit"]
    by_id = {id(node): node for node in parents} | {id(module): module}
    indexed = [node_id for node_id in visited if type(by_id[node_id]) not in UNINDEXED]
    assert sorted(indexed, key=lambda node_id: index.start(by_id[node_id])) == indexed
    for node, parent in parents.items():
        # Whitespace is left out of the index; nothing else, and nothing inside code hangs from whitespace.
        assert index.parent(node) is (None if type(node) in UNINDEXED else parent)
        assert type(node) in UNINDEXED or type(parent) not in UNINDEXED
        assert list(children(node)) == list(node.children)
    assert index.parent(module) is None
    assert index.calls == [by_id[node_id] for node_id in visited if isinstance(by_id[node_id], cst.Call)]


def test_decorators_come_before_the_body_they_decorate() -> None:
    module = cst.parse_module("@first\ndef f():\n    second()\n")
    index = NodeIndex(module)
    function = module.body[0]
    decorator, call = function.decorators[0], index.calls[0]
    assert index.finished_before(decorator, call)
    assert not index.finished_before(call, decorator)
    assert index.calls_within(function) == [call]
    assert list(index.ancestors(call))[-1] is module


class _Nested(_Hooks):
    """Leave hooks nested in one another, and a prune whose node also has a leave hook."""

    def leave_Call(self, original_node: cst.Call) -> None:
        self.events.append(("leave call", "", id(original_node)))

    def leave_Lambda(self, original_node: cst.Lambda) -> None:
        self.events.append(("leave lambda", "", id(original_node)))

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.events.append(("class", node.name.value, id(node)))

    def leave_Module(self, original_node: cst.Module) -> None:
        self.events.append(("leave module", "", id(original_node)))


class _Whitespace(_Hooks):
    """Hooks on what the index leaves out: such a visitor is walked node by node, with the same calls."""

    def visit_Comment(self, node: cst.Comment) -> None:
        self.events.append(("comment", node.value, id(node)))

    def leave_EmptyLine(self, original_node: cst.EmptyLine) -> None:
        self.events.append(("leave empty line", "", id(original_node)))


@pytest.mark.parametrize("name, source", SOURCES, ids=[name for name, _ in SOURCES])
def test_the_index_replays_a_walk_exactly_as_libcst_visits(name: str, source: str) -> None:
    module = cst.parse_module(source)
    index = NodeIndex(module)
    for visitor_class in (_Recorder, _Hooks, _Nested, _Whitespace):
        expected, got = visitor_class(), visitor_class()
        module.visit(expected)
        index.walk(got)
        assert got.events == expected.events
    for statement in module.body:  # a subtree, as `walk(node, visitor)` takes one
        expected, got = _Nested(), _Nested()
        statement.visit(expected)
        index.walk(got, statement)
        assert got.events == expected.events


@pytest.mark.parametrize("name, source", SOURCES, ids=[name for name, _ in SOURCES])
def test_names_within_is_names_in_from_the_index(name: str, source: str) -> None:
    module = cst.parse_module(source)
    index = NodeIndex(module)
    for node in [module, *module.body, *index.calls]:
        assert index.names_within(node) == names_in(node)


def test_all_nodes_are_every_node_libcst_visits_in_the_same_order():
    module = cst.parse_module(SYNTAX)
    visited: list[cst.CSTNode] = []

    class Collect(cst.CSTVisitor):
        def on_visit(self, node: cst.CSTNode) -> bool:
            visited.append(node)
            return True

    module.visit(Collect())
    assert [id(node) for node in all_nodes(module)] == [id(node) for node in visited]


def _names_read_by_walk(node: cst.CSTNode) -> set[str]:
    """Every Name under `node` but an attribute's or a keyword's, by walking libcst's children."""
    found, stack = set(), [node]
    while stack:
        current = stack.pop()
        if isinstance(current, cst.Name):
            found.add(current.value)
        elif isinstance(current, cst.Attribute):
            stack.append(current.value)
        elif isinstance(current, cst.Arg):
            stack.append(current.value)
        else:
            stack.extend(current.children)
    return found


def test_the_names_a_definition_reads_come_from_the_index_as_a_walk_finds_them():
    from bnfix.analysis.context import ModuleContext
    from bnfix.analysis.model_layers import ModelResolver
    from bnfix.settings import Settings
    from tests.test_statement_chunks import SOURCES

    definitions = 0
    for source in SOURCES.values():
        module = cst.parse_module(source)
        resolver = ModelResolver(ModuleContext(module, Settings()))
        for statement in module.body:
            if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
                definitions += 1
                assert resolver.referred_names(statement) == _names_read_by_walk(statement)
    assert definitions > 50
