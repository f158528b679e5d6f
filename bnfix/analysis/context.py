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
from bnfix.analysis.positions import ChunkPositions, JoinedPositions, Positions
from bnfix.settings import Settings

if TYPE_CHECKING:
    from bnfix.analysis.node_index import NodeIndex
    from bnfix.sources.statement_chunks import ChunkLayout

T = TypeVar("T")


class ModuleContext:
    """One parsed module plus what rules ask of it: imports, positions, parents, settings, shared analyses."""

    def __init__(self, module: cst.Module, settings: Settings, chunked: tuple[ChunkLayout, ChunkPositions] | None = None) -> None:
        """`chunked`: the module was joined from an editor document's chunks, whose positions are kept per chunk."""
        self.module = module
        self.settings = settings
        self._analyses: dict[str, object] = {}
        self._chunked = chunked

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
        """Any node's range: the first call computes every node's (for rules that need positions as they go)."""
        return self._positions[node]

    def positions_of(self, nodes: Iterable[cst.CSTNode]) -> Positions | JoinedPositions:
        """Ranges for `nodes` (at least): every node's when a rule has already asked for one, else only theirs."""
        if "_positions" in self.__dict__:
            return self._positions
        if self._chunked is not None:
            layout, kept = self._chunked
            return kept.of(layout, nodes, self._top_level_of)  # the chunks keep their code
        positions = Positions(self.module, nodes)
        self.__dict__["code"] = positions.code  # generated on the way: not generated again
        return positions

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
