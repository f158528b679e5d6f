"""Line and column of any node, from one plain code-generation pass instead of libcst's PositionProvider.

libcst's provider (through a MetadataWrapper) costs about 2.5x a parse on a BN-dense module: a regular-expression
split of every token, two position objects per node, and an empty batched-visitor traversal the wrapper always
runs. Here each node records only the index of the token it starts and ends at (an integer stack and one dict
entry); an offset is turned into a line and column only for the nodes a rule asks about, by bisection over the
newline offsets of the generated text.

The ranges are PositionProvider's (tests/test_positions.py compares every node of real and synthetic modules):
syntactic positions where a node declares them (`record_syntactic_position`, with the start or end hoisted from a
child), whitespace-inclusive bounds otherwise, and the module's own trailing newline counted as the provider counts
it.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from contextlib import contextmanager
from itertools import accumulate
from typing import Iterator

import libcst as cst
from libcst._nodes.internal import CodegenState
from libcst.metadata import CodePosition, CodeRange

_NEWLINE = re.compile(r"\r\n?|\n")


class _TokenSpans(CodegenState):
    """Code generation that remembers, per node, the token indices its range starts and ends at."""

    def __init__(self, module: cst.Module) -> None:
        super().__init__(default_indent=module.default_indent, default_newline=module.default_newline)
        self.spans: dict[cst.CSTNode, tuple[int, int]] = {}
        self._starts: list[int] = []

    def before_codegen(self, node: cst.CSTNode) -> None:
        self._starts.append(len(self.tokens))

    def after_codegen(self, node: cst.CSTNode) -> None:
        start = self._starts.pop()
        if node not in self.spans:  # a syntactic position, recorded inside, wins
            self.spans[node] = (start, len(self.tokens))

    def pop_trailing_newline(self) -> None:
        """Kept: the provider's line and column do not move back when the module drops its last newline."""

    @contextmanager
    def record_syntactic_position(
        self, node: cst.CSTNode, *, start_node: cst.CSTNode | None = None, end_node: cst.CSTNode | None = None
    ) -> Iterator[None]:
        start = len(self.tokens)
        try:
            yield
        finally:
            end = len(self.tokens)
            if start_node is not None:
                start = self.spans[start_node][0]
            if end_node is not None:
                end = self.spans[end_node][1]
            self.spans[node] = (start, end)


class Positions:
    """`positions[node]` is the node's CodeRange (1-based lines, 0-based columns), as PositionProvider gives it."""

    def __init__(self, module: cst.Module) -> None:
        state = _TokenSpans(module)
        module._codegen(state)
        self._spans = state.spans
        self._offsets = list(accumulate(map(len, state.tokens), initial=0))
        self._line_starts = [match.end() for match in _NEWLINE.finditer("".join(state.tokens))]

    def __getitem__(self, node: cst.CSTNode) -> CodeRange:
        start, end = self._spans[node]
        return CodeRange(self._position(self._offsets[start]), self._position(self._offsets[end]))

    def __contains__(self, node: object) -> bool:
        return node in self._spans

    def _position(self, offset: int) -> CodePosition:
        line = bisect_right(self._line_starts, offset)
        return CodePosition(line + 1, offset - (self._line_starts[line - 1] if line else 0))
