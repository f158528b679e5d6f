"""Where calls and their arguments are, from CPython's tree: a first check of a module places its findings without
generating the module's code.

The findings of a BN-dense module are calls and their arguments (960 calls and 213 arguments of 1,173 reported
nodes on the 5,000-line module of bench/server_bench.py), and CPython's tree, parsed anyway as the syntax
pre-check, already holds their lines and columns. Generating the code to find them (analysis/positions.py) was
an eighth of a first check. libcst's calls and CPython's are paired in source order (both trees list every call,
each before the calls inside it); a pair whose callee or argument count disagree gives up the whole module, so
positions then come from the generated code as before.

What CPython places differently from libcst's syntactic ranges is left to the generated code too: an argument
whose value is parenthesised (libcst's range holds the parentheses, CPython's not) or a bare generator (CPython's
range holds the call's parentheses), and anything inside an f-string (CPython 3.11 places those by parsing the
expression again, not always right). tests/test_call_positions.py compares every call and argument of the rule
examples, fixtures and edge cases with the generated code's ranges.
"""

from __future__ import annotations

import ast
import io

import libcst as cst
from libcst.metadata import CodePosition, CodeRange

from bnfix.analysis.node_index import NodeIndex


class CallPositions:
    """`positions.range_of(node)`: a call's or an argument's CodeRange, or None when CPython's tree cannot say."""

    def __init__(self, source: str, python_calls: list[ast.Call], fstrings: list[ast.JoinedStr], index: NodeIndex) -> None:
        self._source = source
        self._python_calls = python_calls
        self._fstrings = fstrings
        self._index = index
        self._paired: dict[int, ast.Call] | None = None  # id(libcst call) -> its CPython call, made on first use
        self._lines: list[str] | None = None

    @property
    def placed_calls(self) -> int:
        """How many of the module's calls CPython's tree places (none when the two trees disagree)."""
        return len(self._pairs())

    def range_of(self, node: cst.CSTNode) -> CodeRange | None:
        kind = type(node)
        if kind is cst.Call:
            python = self._pairs().get(id(node))
            return None if python is None else self._range(python)
        if kind is cst.Arg:
            return self._argument_range(node)
        return None

    def _argument_range(self, argument: cst.Arg) -> CodeRange | None:
        call = self._index.parent(argument)
        python = self._pairs().get(id(call)) if type(call) is cst.Call else None
        if python is None or argument.value.lpar or type(argument.value) is cst.GeneratorExp:
            return None
        position = next(place for place, arg in enumerate(call.args) if arg is argument)  # type: ignore[union-attr]
        elements = sorted([*python.args, *python.keywords], key=_start)
        return self._range(elements[position])

    def _pairs(self) -> dict[int, ast.Call]:
        if self._paired is None:
            self._paired = self._pair()
        return self._paired

    def _pair(self) -> dict[int, ast.Call]:
        inside = _inside_fstrings(self._fstrings)
        python_calls = sorted((call for call in self._python_calls if id(call) not in inside), key=_start_outer_first)
        formatted = self._libcst_calls_in_fstrings() if self._fstrings else set()
        libcst_calls = [call for call in self._index.calls if id(call) not in formatted]
        if len(python_calls) != len(libcst_calls):
            return {}
        paired: dict[int, ast.Call] = {}
        for ours, theirs in zip(libcst_calls, python_calls):
            if not _same_call(ours, theirs):
                return {}  # the two trees disagree: every position comes from the generated code
            paired[id(ours)] = theirs
        return paired

    def _libcst_calls_in_fstrings(self) -> set[int]:
        inside: set[int] = set()
        for string in self._index.formatted_strings:
            inside.update(id(call) for call in self._index.calls_within(string))
        return inside

    def _range(self, node: ast.AST) -> CodeRange:
        return CodeRange(
            self._position(node.lineno, node.col_offset),  # type: ignore[attr-defined]
            self._position(node.end_lineno, node.end_col_offset),  # type: ignore[attr-defined]
        )

    def _position(self, line: int, byte_column: int) -> CodePosition:
        """CPython counts columns in UTF-8 bytes, libcst in characters."""
        if self._source.isascii():
            return CodePosition(line, byte_column)
        if self._lines is None:
            self._lines = io.StringIO(self._source, newline="").readlines()  # lines as CPython's tokenizer counts them
        return CodePosition(line, len(self._lines[line - 1].encode("utf-8")[:byte_column].decode("utf-8", "replace")))


def _start(node: ast.AST) -> tuple[int, int]:
    return node.lineno, node.col_offset  # type: ignore[attr-defined]


def _start_outer_first(node: ast.AST) -> tuple[int, int, int, int]:
    """Source order, a call before the calls it starts with (`f(a)(b)`: the outer one first, as libcst visits)."""
    return node.lineno, node.col_offset, -node.end_lineno, -node.end_col_offset  # type: ignore[attr-defined, operator]


def _inside_fstrings(fstrings: list[ast.JoinedStr]) -> set[int]:
    return {id(node) for string in fstrings for node in ast.walk(string) if isinstance(node, ast.Call)}


def _same_call(ours: cst.Call, theirs: ast.Call) -> bool:
    if len(ours.args) != len(theirs.args) + len(theirs.keywords):
        return False
    func, python_func = ours.func, theirs.func
    if type(func) is cst.Name:
        return type(python_func) is ast.Name and func.value == python_func.id
    if type(func) is cst.Attribute:
        return type(python_func) is ast.Attribute and func.attr.value == python_func.attr
    return type(python_func) not in (ast.Name, ast.Attribute)
