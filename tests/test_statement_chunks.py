"""A module joined from its top-level statements, parsed chunk by chunk, is libcst's parse of the whole text;
an edit re-parses only the chunks it touched; and the engine's results do not depend on how the tree was parsed."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import libcst as cst
import pytest

from bnfix import engine
from bnfix.analysis.node_index import all_nodes
from bnfix.rules import ALL_RULES
from bnfix.settings import PlacementPolicy, Settings
from bnfix.sources.statement_chunks import StatementChunks, chunk_texts
from tests.helpers import settings_for

ROOT = Path(__file__).resolve().parent.parent
EDGE_CASES = {
    "header comments": "#!/usr/bin/env python\n# -*- coding: utf-8 -*-\n\n\n# lead\nimport os\n",
    "comment after a block, indented": "def f():\n    x = 1\n    # still f's\n\n# the next one's\ny = 2\n",
    "blank lines then an indented comment": "def f():\n    x = 1\n\n    # f's, after a blank line\n\n\ny = 2\n",
    "nested footers": "def f():\n    if a:\n        b\n        # deep\n    # mid\n# top\ny = 3\n",
    "comment after a block at the end": "class A:\n    x = 1\n    # trailing\n",
    "comments at the end": "x = 1\n# trailing\n\n",
    "decorators": "@dec(1)\n\n@other\nclass A(B):\n    @property\n    def f(self): return 1\n\n\n@dec\ndef g(): pass\n",
    "semicolons": "a = 1; b = 2\nc = 3; d = (\n    4)\n",
    "one-line compound statements": "if x: y = 1\nelse:\n    y = 2\nwhile z: pass\n",
    "continuation": "a = 1 + \\\n    2\nb = [\n1,\n]\n",
    "strings over lines": 'x = """\ndef not_a_statement():\n"""\ny = f"""{x}\n"""\n',
    "try": "try:\n    a\nexcept E as e:\n    b\nelse:\n    c\nfinally:\n    d\n# after\nz = 1\n",
    "match": "match x:\n    case [1, *rest] if rest:\n        f = 1\n    case _:\n        pass\nq = 2\n",
    "async": "async def f():\n    async with a as b:\n        await b\n    async for i in c:\n        pass\n",
    "if elif else": "if a:\n    pass\nelif b:\n    pass\nelse:\n    pass\n",
    "two-space indentation": "def f():\n  if x:\n    return 1\n\ndef g():\n  return 2\n",
    "tabs": "def f():\n\tif x:\n\t\treturn g(x,\n\t\t         y)\n\nclass A:\n\tpass\n",
    "first block only later": "x = 1\ny = [\n        2]\n\ndef f():\n   return 3\n",
    "crlf": "import keras\r\n\r\nif x:\r\n    y = keras.layers.Dense(3)(\r\n        x)\r\n# c\r\nz = 1\r\n",
    "lone cr": "x = 1\ry = 2\rdef f():\r    return 3\r",
    "no trailing newline": "x = 1\ndef f():\n    return 2",
    "no trailing newline after a comment": "x = 1\n# end",
    "form feed": "x = 1\n\x0c\ndef f():\n    pass\n",
    "unicode": "naïve = 'é' + '日本\u2028'  # ü\nπ = 3.14\n",
    "blank lines then an indented comment between statements": "x = 1\n\n #c\ny = 2\n\n\n\t# d\n\nz = 3\n",
    "a column-0 comment after a block": "def f():\n    pass\n\n# about g\n\ndef g():\n    pass\n",
    "a line of spaces after a comment below a block": "for x in y:\n    try:\n        a\n    except:\n        b\n# note\n\n    \nz = 1\n",
    "the same statement twice": "model.add(layers.BatchNormalization())\nmodel.add(layers.BatchNormalization())\n",
    "only one statement": "x = 1\n",
    # Functions indented differently: each chunk re-spells its blocks in the module's default indentation.
    "indentation changes between blocks": "def f():\n  return 1\n\ndef g():\n    return 2\n",
    "indentation changes, nested": "def f():\n    x = 1\n\ndef g():\n  if a:\n      b = 2\n  return 3\n# c\nclass A:\n\tdef m(self):\n\t\tif x:\n\t\t    pass\n",
}
# Sources whose chunks disagree on what libcst records once per module: the caller must parse them whole.
WHOLE_ONLY = {
    "line endings change": "x = 1\r\ny = 2\nz = 3\n",
    "no statement": "# only a comment\n",
    "empty": "",
}
SOURCES = {
    **EDGE_CASES,
    **{f"fixtures/{path.name}": path.read_text(encoding="utf-8") for path in sorted((ROOT / "fixtures").glob("*.py"))},
    **{f"{rule.code} example {index}": example.code for rule in ALL_RULES for index, example in enumerate(rule.INVALID + rule.VALID)},
    **{f"bnfix/{name}": (ROOT / "bnfix" / name).read_text(encoding="utf-8") for name in ("engine.py", "process.py", "cli.py")},
}


def joined(source: str, chunks: StatementChunks | None = None) -> cst.Module | None:
    return (chunks or StatementChunks()).parse(source, ast.parse(source))


@pytest.mark.parametrize("name", list(SOURCES))
def test_the_joined_tree_is_libcsts_parse_of_the_whole_text(name):
    source = SOURCES[name]
    module = joined(source)
    assert module is not None, "these sources can be joined"
    whole = cst.parse_module(source)
    assert module.deep_equals(whole)
    assert module.code == whole.code  # the source itself, but for libcst dropping a last lone \r
    statements = [id(node) for node in module.body]
    assert len(set(statements)) == len(statements)  # no node twice in one tree


@pytest.mark.parametrize("name", list(WHOLE_ONLY))
def test_what_chunks_cannot_spell_as_the_whole_parse_does_is_left_to_it(name):
    assert joined(WHOLE_ONLY[name]) is None


def test_chunks_are_cut_where_both_sides_keep_what_a_whole_parse_gives_them():
    source = (
        "# head\n\nimport os\n\n\n"  # blank lines: they stay with the chunk above
        "@dec\n\ndef f():\n    pass\n# g's\n\n"  # a comment at column 0: it starts the next chunk
        "def g():\n    pass\n    # g's own\n"  # an indented comment may be the block's: no cut
        "a = 1; b = 2\n"
        "  \n"  # so may a line of spaces
        "c = 3\n"
    )
    assert chunk_texts(source, ast.parse(source)) == [
        "# head\n\nimport os\n\n\n",
        "@dec\n\ndef f():\n    pass\n",
        "# g's\n\ndef g():\n    pass\n    # g's own\na = 1; b = 2\n  \nc = 3\n",
    ]


def test_an_edit_reparses_only_the_statements_it_touched():
    functions = [f"def build_{index}():\n    return layers.Dense({index})\n\n\n" for index in range(40)]
    source = "from keras import layers\n\n\n" + "".join(functions)
    chunks = StatementChunks()
    assert joined(source, chunks).deep_equals(cst.parse_module(source))
    assert chunks.parsed_last == 41
    edited = source.replace("layers.Dense(7)", "layers.Dense(7, use_bias=False)")
    assert joined(edited, chunks).deep_equals(cst.parse_module(edited))
    assert chunks.parsed_last == 1
    # Typing a new statement between two others: only the chunk that now holds it is parsed.
    typed = edited.replace("def build_20", "x = 1\n\n\ndef build_20")
    assert joined(typed, chunks).deep_equals(cst.parse_module(typed))
    assert chunks.parsed_last == 1  # `x = 1`: build_19's chunk still ends where a statement starts
    assert joined(source, chunks).deep_equals(cst.parse_module(source)) and chunks.parsed_last == 0


def test_only_the_last_versions_chunks_are_kept():
    chunks = StatementChunks(versions_kept=2)
    for value in range(5):
        joined(f"x = {value}\ny = 0\n", chunks)
    assert chunks.parsed_last == 1  # `y = 0` was kept
    joined("x = 0\ny = 0\n", chunks)
    assert chunks.parsed_last == 1  # `x = 0` was three versions ago


SETTINGS = [Settings(), Settings(policy=PlacementPolicy.PRE, unsafe_fixes=True)]


@pytest.mark.parametrize("settings", SETTINGS, ids=["default", "pre-unsafe"])
@pytest.mark.parametrize("name", [name for name in SOURCES if not name.startswith("bnfix/")])
def test_the_engine_gives_the_same_results_from_joined_trees(name, settings):
    source = SOURCES[name]
    document = engine.EditorDocument()
    assert engine.check_source(source, settings, document) == engine.check_source(source, settings)
    assert engine.fix_source(source, settings, document) == engine.fix_source(source, settings)


def test_errors_are_the_whole_parses():
    document = engine.EditorDocument()
    for broken in ("from keras import layers\nlayers.BatchNormalization(\n", "from keras import layers\nprint 'x'\nlayers.BatchNormalization()\n"):
        with pytest.raises(engine.SourceError) as whole:
            engine.check_source(broken, Settings())
        with pytest.raises(engine.SourceError) as from_chunks:
            engine.check_source(broken, Settings(), document)
        assert (from_chunks.value.message, from_chunks.value.line, from_chunks.value.column) == (
            whole.value.message, whole.value.line, whole.value.column
        )


FIXABLE = [(rule.code, index) for rule in ALL_RULES for index, example in enumerate(rule.INVALID) if example.expected is not None]


@pytest.mark.parametrize("code,index", FIXABLE)
def test_a_quick_fix_is_built_from_the_documents_last_check(code, index, monkeypatch):
    example = next(rule for rule in ALL_RULES if rule.code == code).INVALID[index]
    source, settings = example.code, dataclasses.replace(settings_for(**example.options), unsafe_fixes=True)
    expected = {(d.code, d.line, d.column): engine.fix_one(source, settings, d.code, d.line, d.column) for d in engine.check_source(source, settings).diagnostics}
    assert any(expected.values())
    document = engine.EditorDocument()
    engine.check_source(source, settings, document)
    checks = []
    lint = engine._lint
    monkeypatch.setattr(engine, "_lint", lambda *args: checks.append(args) or lint(*args))
    assert {where: engine.fix_one(source, settings, *where, document) for where in expected} == expected
    assert checks == []  # no second check of the same text
    engine.fix_one(source, Settings(), *next(iter(expected)), document)
    assert len(checks) == 1  # other settings: checked again


def test_fix_all_starts_from_the_last_check_and_leaves_the_check_of_its_result(monkeypatch):
    source = next(rule for rule in ALL_RULES if rule.code == "BNF202").INVALID[0].code
    settings = Settings(unsafe_fixes=True)
    expected = engine.fix_source(source, settings)
    document = engine.EditorDocument()
    engine.check_source(source, settings, document)
    checks = []
    lint = engine._lint
    monkeypatch.setattr(engine, "_lint", lambda *args: checks.append(args) or lint(*args))
    assert engine.fix_source(source, settings, document) == expected
    assert [args[1] for args in checks] == [expected.source]  # only the repaired text was checked
    # The editor then sends the repaired text: its findings are the ones fix all already computed.
    assert engine.check_source(expected.source, settings, document).diagnostics == expected.diagnostics
    assert len(checks) == 1


REPAIRED = [name for name in SOURCES if " example " in name or name.startswith("fixtures/")]
# keras-contrib's tensorboard_test.py, reduced: under `pre`, the repair adds Activation to the import, and libcst's
# AddImportsVisitor writes the import's commas as defaults, which its parser never gives.
IMPORT_ADDED = (
    "from keras.layers import Layer, Input, Dense, BatchNormalization\n\n\n"
    "def build(inp):\n    hidden = Dense(8, activation='relu')(inp)\n    hidden = BatchNormalization()(hidden)\n"
    "    return hidden\n"
)


@pytest.mark.parametrize("settings", [*SETTINGS, Settings(unsafe_fixes=True)], ids=["default", "pre-unsafe", "unsafe"])
def test_fix_all_keeps_each_repaired_chunk_as_libcst_would_parse_its_code(settings, monkeypatch):
    """What `StatementChunks.expect` keeps in place of a parse must be that parse, for every fix of every example
    and fixture; and the repaired text it joins from the chunks must be the repaired module's code."""
    expect = StatementChunks.expect
    kept: list[tuple[str, cst.Module]] = []

    def checked_expect(self, layout, repaired):
        before = {id(parse) for _, parses in self._chunks.values() for parse in parses}
        text = expect(self, layout, repaired)
        if text is not None:
            assert text == repaired.code
        kept.extend((code, parse) for code, (_, parses) in self._chunks.items() for parse in parses if id(parse) not in before)
        return text

    monkeypatch.setattr(StatementChunks, "expect", checked_expect)
    for name in [*REPAIRED, "import added"]:
        source = IMPORT_ADDED if name == "import added" else SOURCES[name]
        local = dataclasses.replace(settings_for(**_options(name)), policy=settings.policy, unsafe_fixes=settings.unsafe_fixes)
        document = engine.EditorDocument()
        engine.check_source(source, local, document)
        assert engine.fix_source(source, local, document) == engine.fix_source(source, local), name
    assert len(kept) > 20  # the fixes did go through it
    for code, parse in kept:
        assert parse.code == code
        assert parse.deep_equals(cst.parse_module(code)), code


def _options(name: str) -> dict:
    code, _, index = name.partition(" example ")
    if not index:
        return {}
    example = (lambda rule: (rule.INVALID + rule.VALID)[int(index)])(next(rule for rule in ALL_RULES if rule.code == code))
    return example.options


@pytest.mark.parametrize("quick_fix_first", [False, True], ids=["fix all", "a quick fix, then fix all"])
def test_fix_all_parses_none_of_the_chunks_it_repaired(quick_fix_first):
    source = (ROOT / "fixtures" / "pytorch_momentum.py").read_text(encoding="utf-8")
    settings = Settings(unsafe_fixes=True)
    document = engine.EditorDocument()
    found = engine.check_source(source, settings, document).diagnostics
    if quick_fix_first:  # what an editor asks for first; its result is parsed, but never sent back
        quick = engine.fix_one(source, settings, found[0].code, found[0].line, found[0].column, document)
        assert quick is not None and quick != source and document.chunks.parsed_last == 0
    result = engine.fix_source(source, settings, document)
    assert result.changed and result.fixed
    assert document.chunks.parsed_last == 0
    assert document.chunks.layout.module.code == result.source


def test_repairs_kept_as_parsed_never_share_a_node_in_one_tree():
    """Two quick fixes of one function share its untouched nodes: a text holding both repairs is parsed afresh."""
    head = "from keras import layers\n\n\n"
    function = "def build():\n    a = layers.BatchNormalization(momentum=0.1)\n    b = layers.BatchNormalization(momentum=0.2)\n    return a, b\n\n\n"
    tail = "model = build()\n"
    source = head + function + tail
    settings = Settings(unsafe_fixes=True)
    document = engine.EditorDocument()
    first, second = [d for d in engine.check_source(source, settings, document).diagnostics if d.code == "BNF202"]
    one = engine.fix_one(source, settings, first.code, first.line, first.column, document)
    other = engine.fix_one(source, settings, second.code, second.line, second.column, document)
    repaired_one, repaired_other = (text[len(head) : -len(tail)] for text in (one, other))
    assert repaired_one != repaired_other
    both = head + repaired_one + repaired_other.replace("def build", "def build_again") + tail
    for text in (other, head + repaired_one + repaired_other + tail, both):
        module = engine.parse(text, document.chunks)
        assert module.deep_equals(cst.parse_module(text))
        nodes = [id(node) for node in all_nodes(module)]
        assert len(set(nodes)) == len(nodes)


@pytest.mark.parametrize("name", list(SOURCES))
def test_positions_kept_per_chunk_are_the_whole_modules(name):
    from bnfix.analysis.context import ModuleContext
    from bnfix.analysis.positions import Positions

    source = SOURCES[name]
    document = engine.EditorDocument()
    newline = "\r\n" if "\r\n" in source else "\r" if "\r" in source else "\n"
    edited = source + ("" if source.endswith(newline) else newline) + f"x_added = 1{newline}"
    for text in (source, edited, source):  # the chunks and their positions kept, then reused
        module = engine.parse(text, document.chunks)
        ctx = document.context(module, Settings())
        assert ctx._chunked is not None, "joined from chunks"
        nodes = all_nodes(module)
        expected = Positions(module)
        got = ctx.positions_of(nodes)
        assert [got[node] for node in nodes] == [expected[node] for node in nodes]
        assert ctx.code == module.code == ModuleContext(module, Settings()).code


def test_positions_of_kept_chunks_move_with_the_lines_an_edit_adds_above_them():
    from bnfix.analysis.positions import Positions

    functions = [f"def build_{index}():\n    return layers.Dense({index})  # {index}\n\n\n" for index in range(12)]
    source = "from keras import layers\n\n\n" + "".join(functions)
    document = engine.EditorDocument()
    versions = [
        source,
        source.replace("def build_5", "# a note\nx = [\n    1,\n]\n\n\ndef build_5"),  # lines added in the middle
        source.replace("def build_2():\n    return layers.Dense(2)  # 2\n\n\n", ""),  # a function removed
    ]
    for text in versions:
        module = engine.parse(text, document.chunks)
        ctx = document.context(module, Settings())
        nodes = all_nodes(module)
        got, expected = ctx.positions_of(nodes), Positions(module)
        assert [got[node] for node in nodes] == [expected[node] for node in nodes]


def test_a_documents_replaced_check_gives_up_its_analyses():
    """Its analyses refer back to its context: released, reference counting frees them, not a full collection."""
    import gc

    source = (ROOT / "fixtures" / "functional_placement.py").read_text(encoding="utf-8")
    document = engine.EditorDocument()
    engine.check_source(source, Settings(), document)
    first = document.last_check.ctx
    assert first._analyses  # the rules shared some
    gc.collect()
    engine.check_source(source + "#\n", Settings(), document)
    assert first._analyses == {} and "node_index" not in first.__dict__
    assert gc.collect() < 200  # without the release: 543 objects on this fixture, ~53,000 on a 5,000-line module
