"""One parsed module and every analysis of it that rules ask for, each computed lazily, once, on first use.

Analyses hang off the context (`ctx.node_index`, `ctx.shared(...)`) rather than off module-level caches, so
they live exactly as long as the parsed module they describe.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, TypeVar

import libcst as cst
from libcst.metadata import CodeRange

from bnfix.analysis.names import ImportTable
from bnfix.analysis.positions import ChunkPositions, JoinedPositions, PlacedPositions, Positions, placed_directly
from bnfix.settings import Settings

if TYPE_CHECKING:
    from bnfix.analysis.call_positions import CallPositions
    from bnfix.analysis.node_index import NodeIndex
    from bnfix.analysis.syntax_facts import SyntaxFacts
    from bnfix.sources.statement_chunks import ChunkLayout

T = TypeVar("T")


class ModuleContext:
    """One parsed module plus what rules ask of it: imports, positions, parents, settings, shared analyses."""

    def __init__(
        self,
        module: cst.Module,
        settings: Settings,
        chunked: tuple[ChunkLayout, ChunkPositions] | None = None,
        python: tuple[str, SyntaxFacts] | None = None,
    ) -> None:
        """`chunked`: the module was joined from an editor document's chunks, whose positions are kept per chunk.
        `python`: the module's text and what CPython's tree of it says, which places calls and their arguments."""
        self.module = module
        self.settings = settings
        self._analyses: dict[str, object] = {}
        self._chunked = chunked
        self._python = python

    def release(self) -> None:
        """Drop every analysis of the module, once nothing will ask again (an editor's document moved to a newer
        text). They refer back to the context, so otherwise the collector, not reference counting, frees them: a
        5,000-line module's analyses are ~50,000 objects, left for a full collection to find."""
        self._analyses.clear()
        for name in ("node_index", "imports", "_positions", "_call_positions", "code"):
            self.__dict__.pop(name, None)
        self._python = None

    @property
    def chunk_layout(self) -> ChunkLayout | None:
        """Where the chunks lie of a module joined from an editor document's chunks; None for one parsed whole."""
        return self._chunked[0] if self._chunked is not None else None

    @cached_property
    def imports(self) -> ImportTable:
        return ImportTable(self.node_index)

    @cached_property
    def node_index(self) -> "NodeIndex":
        from bnfix.analysis.node_index import NodeIndex

        return NodeIndex(self.module)

    @cached_property
    def _positions(self) -> Positions:
        return Positions(self.module)

    def shared(self, name: str, build: Callable[[], T]) -> T:
        """`build()` once for this module, then the same object for every rule that asks."""
        if name not in self._analyses:
            self._analyses[name] = build()
        return self._analyses[name]  # type: ignore[return-value]

    def position(self, node: cst.CSTNode) -> CodeRange:
        """Any node's range, for rules that need positions as they go: a call's or an argument's from CPython's
        tree where it places them, else from every node's (computed on the first such question)."""
        if "_positions" not in self.__dict__ and self._call_positions is not None:
            where = self._call_positions.range_of(node)
            if where is not None:
                return where
        return self._positions[node]

    def positions_of(self, nodes: Iterable[cst.CSTNode]) -> Positions | JoinedPositions | PlacedPositions:
        """Ranges for `nodes` (at least): every node's when a rule has already asked for one, else only theirs.

        Where they come from, cheapest first: an editor document's chunks that kept them from an earlier version;
        CPython's tree, for calls and their arguments (no code generated); the code generated for what is left.
        """
        if "_positions" in self.__dict__:
            return self._positions
        place = self._call_positions.range_of if self._call_positions is not None else None
        if self._chunked is not None:
            layout, kept = self._chunked
            return kept.of(layout, nodes, self._top_level_of, place)  # the chunks keep their code
        placed: dict[int, CodeRange] = {}
        rest = list(nodes)
        if place is not None:
            placed, rest = placed_directly(rest, place)
            if not rest:
                return PlacedPositions(placed, None)
        positions = Positions(self.module, rest)
        self.__dict__["code"] = positions.code  # generated on the way: not generated again
        return PlacedPositions(placed, positions) if placed else positions

    @cached_property
    def _call_positions(self) -> CallPositions | None:
        if self._python is None:
            return None
        from bnfix.analysis.call_positions import CallPositions

        source, facts = self._python
        return CallPositions(source, facts.calls, facts.fstrings, self.node_index)

    @cached_property
    def code(self) -> str:
        """The module's code, as libcst generates it from the tree (which a few real files do not survive)."""
        if "_positions" in self.__dict__:
            return self._positions.code
        if self._chunked is not None:
            layout, kept = self._chunked
            return kept.code_of(layout)
        return self.module.code

    def _top_level_of(self, node: cst.CSTNode) -> cst.CSTNode | None:
        """The statement of the module's body that holds `node` (`node` itself if it is one)."""
        inner = node
        for ancestor in self.node_index.ancestors(node):
            if ancestor is self.module:
                return inner
            inner = ancestor
        return None

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        return self.node_index.parent(node)

    def ancestors(self, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
        return self.node_index.ancestors(node)

    def code_for(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node)
