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
from itertools import accumulate
from typing import TYPE_CHECKING, Callable, Iterable

import libcst as cst
from libcst._nodes.internal import CodegenState
from libcst.metadata import CodePosition, CodeRange

if TYPE_CHECKING:
    from bnfix.sources.statement_chunks import ChunkLayout

_NEWLINE = re.compile(r"\r\n?|\n")


class _TokenSpans(CodegenState):
    """Code generation that remembers, per node (by id: CSTNode.__hash__ is a Python method), the token indices
    its range starts and ends at."""

    def __init__(self, module: cst.Module) -> None:
        super().__init__(default_indent=module.default_indent, default_newline=module.default_newline)
        self.spans: dict[int, tuple[int, int]] = {}
        self._starts: list[int] = []

    def before_codegen(self, node: cst.CSTNode) -> None:
        self._starts.append(len(self.tokens))

    def after_codegen(self, node: cst.CSTNode) -> None:
        start = self._starts.pop()
        key = id(node)
        if key not in self.spans:  # a syntactic position, recorded inside, wins
            self.spans[key] = (start, len(self.tokens))

    def pop_trailing_newline(self) -> None:
        """Kept: the provider's line and column do not move back when the module drops its last newline."""

    def record_syntactic_position(
        self, node: cst.CSTNode, *, start_node: cst.CSTNode | None = None, end_node: cst.CSTNode | None = None
    ) -> "_SyntacticSpan":
        return _SyntacticSpan(self, node, start_node, end_node)


class _SomeTokenSpans(_TokenSpans):
    """The same, for a chosen set of nodes only (and the children their ranges are hoisted from): what a file's
    findings need costs little more than generating its code."""

    def __init__(self, module: cst.Module, wanted: set[int]) -> None:
        super().__init__(module)
        self.wanted = wanted

    def before_codegen(self, node: cst.CSTNode) -> None:
        if id(node) in self.wanted:
            self._starts.append(len(self.tokens))

    def after_codegen(self, node: cst.CSTNode) -> None:
        key = id(node)
        if key in self.wanted:
            start = self._starts.pop()
            if key not in self.spans:
                self.spans[key] = (start, len(self.tokens))

    def record_syntactic_position(
        self, node: cst.CSTNode, *, start_node: cst.CSTNode | None = None, end_node: cst.CSTNode | None = None
    ) -> "_SyntacticSpan | _NoSpan":
        if id(node) not in self.wanted:
            return _NO_SPAN
        for hoisted in (start_node, end_node):  # generated inside this `with`, so still to come
            if hoisted is not None:
                self.wanted.add(id(hoisted))
        return _SyntacticSpan(self, node, start_node, end_node)


class _NoSpan:
    __slots__ = ()

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc_info: object) -> None:
        pass


_NO_SPAN = _NoSpan()


class _SyntacticSpan:
    """`with state.record_syntactic_position(node)`: the node's range is what is generated inside, or hoisted from
    a child. A plain class: libcst enters one per statement and expression, and a generator-based context manager
    cost a tenth of the pass."""

    __slots__ = ("state", "node", "start_node", "end_node", "start")

    def __init__(self, state: _TokenSpans, node: cst.CSTNode, start_node: cst.CSTNode | None, end_node: cst.CSTNode | None) -> None:
        self.state, self.node, self.start_node, self.end_node = state, node, start_node, end_node

    def __enter__(self) -> None:
        self.start = len(self.state.tokens)

    def __exit__(self, *exc_info: object) -> None:
        spans = self.state.spans
        start = self.start if self.start_node is None else spans[id(self.start_node)][0]
        end = len(self.state.tokens) if self.end_node is None else spans[id(self.end_node)][1]
        spans[id(self.node)] = (start, end)


class Positions:
    """`positions[node]` is the node's CodeRange (1-based lines, 0-based columns), as PositionProvider gives it."""

    def __init__(self, module: cst.Module, only: Iterable[cst.CSTNode] | None = None) -> None:
        """Every node's range, or with `only` just those nodes' (asking for another is a KeyError)."""
        state = _TokenSpans(module) if only is None else _SomeTokenSpans(module, {id(node) for node in only})
        module._codegen(state)
        self._module = module  # keeps every node alive, so no id in `_spans` is reused
        self._spans = state.spans
        self._offsets = list(accumulate(map(len, state.tokens), initial=0))
        text = "".join(state.tokens)
        self._line_starts = [match.end() for match in _NEWLINE.finditer(text)]
        if not module.has_trailing_newline and state.tokens and state.tokens[-1] == module.default_newline:
            text = text[: -len(module.default_newline)]  # what `Module.code` drops (see pop_trailing_newline)
        self.code = text  # the module's code, as `module.code` would generate it again

    def __getitem__(self, node: cst.CSTNode) -> CodeRange:
        start, end = self._spans[id(node)]
        return CodeRange(self._position(self._offsets[start]), self._position(self._offsets[end]))

    def __contains__(self, node: object) -> bool:
        return id(node) in self._spans

    def _position(self, offset: int) -> CodePosition:
        line = bisect_right(self._line_starts, offset)
        return CodePosition(line + 1, offset - (self._line_starts[line - 1] if line else 0))


class ChunkPositions:
    """Positions for modules joined from chunks (`sources.statement_chunks.ChunkLayout`), one editor document's.

    A chunk is generated only when it holds a node a finding reports, and its positions (and its code) are kept for
    the next versions that reuse the chunk: after an edit, only the chunks it touched are generated again. The
    ranges are the whole module's (tests/test_statement_chunks.py compares them on every node).
    """

    def __init__(self, versions_kept: int = 3) -> None:
        self._positions: dict[tuple[int, frozenset[int]], Positions] = {}  # (chunk, wanted nodes) -> their ranges
        self._codes: dict[int, tuple[cst.Module, str]] = {}  # chunk -> its code
        self._recent: list[set[int]] = []  # the chunks of the last versions
        self._versions_kept = versions_kept

    def of(
        self,
        layout: ChunkLayout,
        nodes: Iterable[cst.CSTNode],
        top_level_of: Callable[[cst.CSTNode], cst.CSTNode | None],
        place: Callable[[cst.CSTNode], CodeRange | None] | None = None,
    ) -> "JoinedPositions":
        """Ranges for `nodes` of `layout.module`; `top_level_of(node)` is the top-level statement holding it.

        A chunk that kept its nodes' ranges from an earlier version gives them; in the others, `place` gives what
        it can (CPython's tree), and the chunk is generated only for what is left.
        """
        self._remember(layout)
        wanted: dict[int, list[tuple[cst.CSTNode, cst.CSTNode]]] = {}
        elsewhere: list[cst.CSTNode] = []  # the module's own header and footer lines, the module itself
        for node in nodes:
            top = top_level_of(node)
            owner = layout.chunk_of(top) if top is not None else None
            if owner is None:
                elsewhere.append(node)
                continue
            index, own = owner
            wanted.setdefault(index, []).append((node, own if node is top else node))
        found: dict[int, tuple[Positions | PlacedPositions, cst.CSTNode, int]] = {}
        for index, pairs in wanted.items():
            part = layout.parts[index]
            key = (id(part), frozenset(id(local) for _, local in pairs))
            positions = self._positions.get(key)
            if positions is None and place is not None:
                positions = _placed_in_chunk(part, pairs, place, layout.first_lines[index] - 1)
                if positions is not None:
                    self._positions[key] = positions
            if positions is None:
                positions = self._positions[key] = Positions(part, [local for _, local in pairs])
                self._codes.setdefault(id(part), (part, positions.code))
            for node, local in pairs:
                if local in positions:
                    found[id(node)] = (positions, local, layout.first_lines[index] - 1)
                else:  # a line moved into this chunk's first statement from the chunk above
                    elsewhere.append(node)
        return JoinedPositions(found, Positions(layout.module, elsewhere) if elsewhere else None)

    def code_of(self, layout: ChunkLayout) -> str:
        """The joined module's code: its chunks' codes, generated once per chunk."""
        self._remember(layout)
        if not all(part.has_trailing_newline for part in layout.parts[:-1]):
            return layout.module.code  # libcst leaves a chunk's last lone \r out of the chunk's own code
        for part in layout.parts:
            if id(part) not in self._codes:
                self._codes[id(part)] = (part, part.code)
        return "".join(self._codes[id(part)][1] for part in layout.parts)

    def _remember(self, layout: ChunkLayout) -> None:
        current = {id(part) for part in layout.parts}
        if self._recent and self._recent[-1] == current:
            return
        self._recent = [*self._recent, current][-self._versions_kept :]
        live = set().union(*self._recent)
        self._positions = {key: value for key, value in self._positions.items() if key[0] in live}
        self._codes = {key: value for key, value in self._codes.items() if key in live}


class JoinedPositions:
    """`positions[node]` for a joined module: a chunk's range moved down by the lines above the chunk."""

    def __init__(self, found: dict, elsewhere: Positions | None) -> None:
        self._found = found
        self._elsewhere = elsewhere

    def __getitem__(self, node: cst.CSTNode) -> CodeRange:
        entry = self._found.get(id(node))
        if entry is None:
            if self._elsewhere is None:
                raise KeyError(node)
            return self._elsewhere[node]
        positions, local, shift = entry
        where = positions[local]
        return CodeRange(CodePosition(where.start.line + shift, where.start.column), CodePosition(where.end.line + shift, where.end.column))

    def __contains__(self, node: object) -> bool:
        return id(node) in self._found or (self._elsewhere is not None and node in self._elsewhere)


class PlacedPositions:
    """`positions[node]` for nodes placed without generating code (`analysis.call_positions`), and the others'.

    `tree`: what holds the placed nodes, kept alive so that no id in `placed` is reused while it is looked up.
    """

    def __init__(
        self, placed: dict[int, CodeRange], generated: Positions | JoinedPositions | None, tree: cst.CSTNode | None = None
    ) -> None:
        self._placed = placed
        self._generated = generated
        self._tree = tree

    def __getitem__(self, node: cst.CSTNode) -> CodeRange:
        where = self._placed.get(id(node))
        if where is not None:
            return where
        if self._generated is None:
            raise KeyError(node)
        return self._generated[node]

    def __contains__(self, node: object) -> bool:
        return id(node) in self._placed or (self._generated is not None and node in self._generated)


def placed_directly(
    nodes: Iterable[cst.CSTNode], place: Callable[[cst.CSTNode], CodeRange | None]
) -> tuple[dict[int, CodeRange], list[cst.CSTNode]]:
    """The ranges `place` gives (by node id), and the nodes it could not place."""
    placed: dict[int, CodeRange] = {}
    rest: list[cst.CSTNode] = []
    for node in nodes:
        where = place(node)
        if where is None:
            rest.append(node)
        else:
            placed[id(node)] = where
    return placed, rest


def _placed_in_chunk(
    part: cst.Module, pairs: list[tuple[cst.CSTNode, cst.CSTNode]], place: Callable[[cst.CSTNode], CodeRange | None], shift: int
) -> PlacedPositions | None:
    """The ranges of a chunk's (node, chunk's own node) pairs, within the chunk (`shift` lines above it), as
    `Positions(part, ...)` would give them, if `place` gives them all; else None."""
    if any(node is not local for node, local in pairs):
        return None  # a top-level statement whose leading lines came from the chunk above: only `part` knows it
    placed, rest = placed_directly([node for node, _ in pairs], place)
    if rest:
        return None
    within = {
        key: CodeRange(CodePosition(where.start.line - shift, where.start.column), CodePosition(where.end.line - shift, where.end.column))
        for key, where in placed.items()
    }
    return PlacedPositions(within, None, part)
