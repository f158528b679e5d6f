"""libcst's tree of a module, assembled from its top-level statements parsed one chunk at a time and kept.

An editor sends the whole document on every keystroke. libcst's parse is about half the cost of checking a
5,000-line module, and nearly all of it is spent again on statements the edit did not touch. At a top-level
statement boundary the tokenizer holds nothing (column 0, no open bracket, no indentation), so each top-level
statement can be parsed on its own: `StatementChunks` cuts the text where CPython's tree says a top-level statement
starts, parses only the chunks it has not seen, and joins them into one `Module`.

The joined tree equals libcst's parse of the whole text (`deep_equals`, which tests/test_statement_chunks.py and
bench/chunked_parse_check.py check on real code) because the joining does what libcst's whole parse does at each
boundary:

- the lines before the first statement are the module's header (they are the first chunk's);
- a chunk's trailing comments and blank lines: those indented under its last block are that block's footer, in the
  chunk's own parse as in the whole one (the next statement is at column 0 either way); the rest, which a chunk's
  parse leaves in its module footer, lead the next chunk's first statement (or are the module's footer at the end);
- what libcst records once per module (the default indentation, from the first indented block; the default newline,
  from the first line) must be the same in every chunk that depends on it, or the nodes would spell it differently:
  when it is not, `parse` returns None and the caller parses the whole text.
"""

from __future__ import annotations

import ast
import io
from typing import Sequence

import libcst as cst

# The nodes an indented block hangs from, below a top-level compound statement.
_BLOCK_OWNERS = (cst.Else, cst.ExceptHandler, cst.ExceptStarHandler, cst.Finally, cst.MatchCase, cst.If)


class StatementChunks:
    """One document's parser: the chunks of its last few versions, kept by text, so that an edit re-parses its own.

    A text that occurs twice in one version (`model.add(BatchNormalization())` on two lines) gets a parse of its
    own for each occurrence: rules and fixes tell nodes apart by identity, so no node may sit twice in one tree.
    """

    def __init__(self, versions_kept: int = 3) -> None:
        self._versions_kept = versions_kept
        self._chunks: dict[str, tuple[int, list[cst.Module]]] = {}  # chunk text -> (version last used, its parses)
        self._version = 0
        self.parsed_last = 0  # chunks the last call parsed (the rest were reused): for tests and benchmarks
        self.layout: ChunkLayout | None = None  # where the last joined module's chunks lie in its text
        # The repairs kept as parsed (`expect`): each one's first parse, and each first parse's live repair (both
        # hold the trees they are keyed by, so that no id is reused while it is a key).
        self._root_of: dict[int, tuple[cst.Module, cst.Module]] = {}
        self._family: dict[int, tuple[cst.Module, str, cst.Module]] = {}

    def parse(self, source: str, python_tree: ast.Module) -> cst.Module | None:
        """The tree of `source`, given CPython's tree of it; None when it cannot be joined from chunks (parse whole).

        Raises libcst's ParserSyntaxError as `parse_module` would for a chunk libcst refuses.
        """
        self._version += 1
        self.parsed_last = 0
        self.layout = None
        lines = _lines(source)
        cuts = _cuts(lines, python_tree)
        if not cuts:
            return None
        occurrences: dict[str, int] = {}
        parts = []
        texts = _texts(lines, cuts)
        for text in texts:
            occurrence = occurrences[text] = occurrences.get(text, -1) + 1
            parts.append(self._chunk(text, occurrence))
        self._agree_on_indentation(parts, texts, occurrences)
        self._forget_old_versions()
        joined = join(parts)
        if joined is not None:
            self.layout = ChunkLayout(joined, parts, [cut + 1 for cut in cuts[:-1]], texts)
        return joined

    def expect(self, layout: ChunkLayout, repaired: cst.Module) -> str | None:
        """Keep, as parsed, the chunks of `repaired`: the module of `layout` (one this parser joined) with some nodes
        replaced (a fix); return the repaired text, joined from the chunks' texts, or None when it is not known so.

        A fix rebuilds only the statements it changes, so the repaired text's chunks are known as trees before the
        text is parsed again: each changed chunk is its own parse with the changed statements put in, kept under its
        code, and the check of the repaired text joins them instead of parsing them (fix all repairs half of a
        BN-dense module's chunks at once), and only those chunks are generated. Such a tree equals libcst's parse of
        its code as long as every fix builds the nodes the parser would (tests/test_statement_chunks.py checks that
        on every fix of every rule example and fixture). A repair that adds or removes top-level statements, or
        touches the module's own header or footer (an import added), is generated and parsed as any edit.
        """
        module = layout.module
        if len(repaired.body) != len(module.body):
            return None
        if repaired.header is not module.header or repaired.footer is not module.footer:
            return None
        texts = list(layout.texts)
        start = 0
        for index, part in enumerate(layout.parts):
            end = start + len(part.body)
            before, after = module.body[start:end], repaired.body[start:end]
            start = end
            if all(old is new for old, new in zip(before, after)):
                continue
            own = _own_statements(part, before, after)
            if own is None:
                return None
            candidate = part.with_changes(body=own)
            texts[index] = candidate.code
            self._keep_derived(part, layout.texts[index], texts[index], candidate)
        if not all(part.has_trailing_newline for part in layout.parts[:-1]):
            return None  # libcst leaves a chunk's last lone \r out of the chunk's own code
        return "".join(texts)

    def _keep_derived(self, part: cst.Module, text: str, new_text: str, candidate: cst.Module) -> None:
        """Keep `candidate`, a repair of the chunk `part` (of `text`), under `new_text`.

        A repair shares every node it left alone with the parse it was made from, and no node may sit twice in one
        tree. So `part` is dropped (its text, should it come back, is parsed again), and each first parse keeps one
        repair at most: a new one drops the one before (every quick fix the editor asks about is one).
        """
        root = self._root_of.get(id(part), (part, part))[1]
        self._drop(text, part)
        live = self._family.get(id(root))
        if live is not None:
            self._drop(live[1], live[2])
        self._family[id(root)] = (root, new_text, candidate)
        self._root_of[id(candidate)] = (candidate, root)
        _, parses = self._chunks.get(new_text, (0, []))
        self._chunks[new_text] = (self._version, [*parses, candidate])

    def _drop(self, text: str, parse: cst.Module) -> None:
        version, parses = self._chunks.get(text, (0, []))
        kept = [kept_parse for kept_parse in parses if kept_parse is not parse]
        if kept:
            self._chunks[text] = (version, kept)
        else:
            self._chunks.pop(text, None)

    def _agree_on_indentation(self, parts: list[cst.Module], texts: list[str], occurrences: dict[str, int]) -> None:
        """Give every chunk the module's default indentation (its first indented block's, as libcst's whole parse
        takes it), re-spelling the blocks of a chunk that started with another one, and keep them so.

        A module whose functions are indented differently (2 spaces here, 4 there: keras-idiomatic-programmer) was
        parsed whole on every edit, since each chunk's parse records its own first block's indentation.
        """
        default = next((part.default_indent for part in parts if _has_block(part)), None)
        if default is None:
            return
        seen: dict[str, int] = {}
        for index, (part, text) in enumerate(zip(parts, texts)):
            occurrence = seen[text] = seen.get(text, -1) + 1
            if part.default_indent == default or not _has_block(part):
                continue
            parts[index] = reindented = _reindented(part, default)
            self._chunks[text][1][occurrence] = reindented

    def _chunk(self, text: str, occurrence: int) -> cst.Module:
        _, parses = self._chunks.get(text, (0, []))
        if occurrence == len(parses):
            parses.append(cst.parse_module(text))
            self.parsed_last += 1
        self._chunks[text] = (self._version, parses)
        return parses[occurrence]

    def _forget_old_versions(self) -> None:
        oldest = self._version - self._versions_kept
        stale = [text for text, (version, _) in self._chunks.items() if version <= oldest]
        for text in stale:
            del self._chunks[text]
        if self._root_of:
            kept = {id(parse) for _, parses in self._chunks.values() for parse in parses}
            self._root_of = {key: entry for key, entry in self._root_of.items() if key in kept}
            self._family = {key: entry for key, entry in self._family.items() if id(entry[2]) in kept}


def _own_statements(
    part: cst.Module, before: Sequence[cst.BaseStatement], after: Sequence[cst.BaseStatement]
) -> list[cst.BaseStatement] | None:
    """The chunk's own statements with the repaired ones put in; None if a repair changed the lines moved in front
    of the chunk's first statement from the chunk above (they are not the chunk's to keep)."""
    own: list[cst.BaseStatement] = []
    for position, (mine, old, new) in enumerate(zip(part.body, before, after)):
        if new is old:
            own.append(mine)
            continue
        if position == 0 and old is not mine:  # the joined copy: lines from the chunk above lead it
            moved = len(old.leading_lines) - len(mine.leading_lines)
            if len(new.leading_lines) < moved or any(a is not b for a, b in zip(new.leading_lines[:moved], old.leading_lines)):
                return None
            new = new.with_changes(leading_lines=new.leading_lines[moved:])
        own.append(new)
    return own


def chunk_texts(source: str, python_tree: ast.Module) -> list[str]:
    """`source` cut into chunks of whole top-level statements, where a cut leaves both sides as a whole parse has them.

    Between two statements, a gap of empty lines stays with the first chunk (its parse leaves them in its footer,
    from where they lead the next statement); a gap of empty lines and comments at column 0 starts the next chunk
    (its parse puts them in its header, from where they lead its first statement). Any other gap (an indented
    comment, a line of spaces) is not cut: a whole parse may give it, and what comes before it, to the block above;
    and libcst's parse of a text ending in blank lines and an indented comment loses the blank lines.
    """
    lines = _lines(source)
    return _texts(lines, _cuts(lines, python_tree))


def _lines(source: str) -> list[str]:
    return io.StringIO(source, newline="").readlines()  # \n, \r\n and a lone \r, as CPython's tokenizer counts lines


def _cuts(lines: list[str], python_tree: ast.Module) -> list[int]:
    """The 0-based lines where chunks start, and the line count last; empty for a module without statements."""
    cuts = [0]
    previous_end = None
    for first, last in _statement_lines(python_tree):
        if previous_end is not None:
            gap = lines[previous_end : first - 1]
            if all(_is_empty(line) for line in gap):
                cuts.append(first - 1)
            elif all(_is_empty(line) or line.startswith("#") for line in gap):
                cuts.append(previous_end)
        previous_end = last
    if previous_end is None:
        return []
    return [*cuts, len(lines)]


def _texts(lines: list[str], cuts: list[int]) -> list[str]:
    return ["".join(lines[begin:end]) for begin, end in zip(cuts, cuts[1:])]


def _is_empty(line: str) -> bool:
    """Nothing but the line break: a line holding only spaces is indented, and a block above may own it."""
    return line in ("\n", "\r\n", "\r")


def _statement_lines(python_tree: ast.Module) -> list[tuple[int, int]]:
    """(first line, decorators included; last line), 1-based, of each top-level statement line.

    `x = 1; y = 2` is one statement line to libcst: statements that start on the line another ends are merged.
    """
    spans: list[tuple[int, int]] = []
    for statement in python_tree.body:
        decorators = getattr(statement, "decorator_list", ())
        first = min([statement.lineno, *(decorator.lineno for decorator in decorators)])
        last = statement.end_lineno or statement.lineno
        if spans and first <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(last, spans[-1][1]))
        else:
            spans.append((first, last))
    return spans


def join(parts: Sequence[cst.Module]) -> cst.Module | None:
    """One module from the parses of consecutive chunks, as libcst's parse of their joined text gives it."""
    first = parts[0]
    default_indent = next((part.default_indent for part in parts if _has_block(part)), first.default_indent)
    body: list[cst.BaseStatement] = []
    leading: Sequence[cst.EmptyLine] = ()
    for index, part in enumerate(parts):
        if not part.body:
            return None
        if part.default_newline != first.default_newline or (part.default_indent != default_indent and _has_block(part)):
            return None
        statements = list(part.body)
        if index:
            leading = [*leading, *part.header]
        if leading:
            statements[0] = statements[0].with_changes(leading_lines=[*leading, *statements[0].leading_lines])
        body.extend(statements)
        leading = part.footer
    return cst.Module(
        body=body,
        header=first.header,
        footer=leading,
        encoding=first.encoding,
        default_indent=default_indent,
        default_newline=first.default_newline,
        has_trailing_newline=parts[-1].has_trailing_newline,
    )


def _reindented(part: cst.Module, default: str) -> cst.Module:
    """`part` as a module whose default indentation is `default` spells it: a block indented as `default` says so
    by leaving its own `indent` unset, any other block spells its indentation out."""
    return part.visit(_Reindent(part.default_indent, default)).with_changes(default_indent=default)  # type: ignore[return-value]


class _Reindent(cst.CSTTransformer):
    def __init__(self, own: str, default: str) -> None:
        self.own, self.default = own, default

    def leave_IndentedBlock(self, original_node: cst.IndentedBlock, updated_node: cst.IndentedBlock) -> cst.IndentedBlock:
        indent = original_node.indent if original_node.indent is not None else self.own
        wanted = None if indent == self.default else indent
        return updated_node if updated_node.indent == wanted else updated_node.with_changes(indent=wanted)


def _has_block(part: cst.Module) -> bool:
    """Whether the chunk holds an indented block (its first one set the chunk's default indentation)."""
    return any(isinstance(statement, cst.BaseCompoundStatement) and _holds_block(statement) for statement in part.body)


def _holds_block(node: cst.CSTNode) -> bool:
    for child in node.children:
        if isinstance(child, cst.IndentedBlock) or (isinstance(child, _BLOCK_OWNERS) and _holds_block(child)):
            return True
    return False


class ChunkLayout:
    """Where each chunk of a joined module lies: its own parse, the line it starts on, and which of the joined
    module's top-level statements came from it (a chunk's first statement is a copy when lines from the chunk above
    were moved in front of it: `chunk_statement` gives the chunk's own).

    Positions are computed per chunk from this (`analysis.positions.ChunkedPositions`): a chunk an edit did not
    touch keeps its parse, so its nodes' positions within it are the same as before.
    """

    def __init__(self, module: cst.Module, parts: Sequence[cst.Module], first_lines: list[int], texts: Sequence[str]) -> None:
        self.module = module
        self.parts = list(parts)
        self.first_lines = first_lines  # 1-based
        self.texts = list(texts)  # each chunk's text, its key among the parsed chunks
        self._owner: dict[int, tuple[int, cst.BaseStatement]] = {}
        joined = iter(module.body)
        for index, part in enumerate(self.parts):
            for statement in part.body:
                self._owner[id(next(joined))] = (index, statement)

    def chunk_of(self, statement: cst.CSTNode) -> tuple[int, cst.BaseStatement] | None:
        """(chunk index, the chunk's own statement) for a top-level statement of the joined module."""
        return self._owner.get(id(statement))
