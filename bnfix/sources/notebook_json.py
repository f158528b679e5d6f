"""Where each cell's source sits in a notebook's JSON text: json.loads forgets positions, and both the write-back
splice (only a changed cell's `source` value is replaced) and the annotations for GitHub and SARIF (which point at
lines of the .ipynb file) need them. A small position-keeping walk; every value it does not need is skipped with
the standard decoder.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass

_WHITESPACE = re.compile(r"[ \t\n\r]*")


@dataclass(frozen=True)
class SourceValue:
    """Where a cell's source value lies in the file's text, and the line of each of its elements."""

    start: int
    end: int
    lines: tuple[int, ...]


def source_values(raw: str) -> dict[int, SourceValue]:
    """For each cell (by 1-based position, nbformat 3 worksheets counted in order), where its source value is
    and the line of each of its elements; {} if the text is not the JSON it claimed to be."""
    newlines = [match.start() for match in re.finditer("\n", raw)]

    def line_of(offset: int) -> int:
        return bisect.bisect_left(newlines, offset) + 1

    decoder = json.JSONDecoder()
    found: dict[int, SourceValue] = {}
    try:
        _walk_document(raw, decoder, line_of, found)
    except (ValueError, IndexError):
        return {}
    return found


def _walk_document(raw: str, decoder: json.JSONDecoder, line_of, found: dict[int, SourceValue]) -> None:
    position = _skip(raw, 0)
    for key, start in _members(raw, position, decoder):
        if key == "cells":
            _walk_cells(raw, start, decoder, line_of, found, 0)
        elif key == "worksheets":
            offset = 0
            for sheet_start in _elements(raw, start, decoder):
                for sheet_key, cells_start in _members(raw, sheet_start, decoder):
                    if sheet_key == "cells":
                        offset = _walk_cells(raw, cells_start, decoder, line_of, found, offset)


def _walk_cells(raw, start, decoder, line_of, found, offset) -> int:
    for cell_start in _elements(raw, start, decoder):
        offset += 1
        for key, value_start in _members(raw, cell_start, decoder):
            if key in ("source", "input"):
                _, value_end = decoder.raw_decode(raw, value_start)
                if raw[value_start] == "[":
                    lines = tuple(line_of(element) for element in _elements(raw, value_start, decoder))
                else:
                    lines = (line_of(value_start),)
                found[offset] = SourceValue(value_start, value_end, lines or (line_of(value_start),))
    return offset


def _skip(raw: str, position: int) -> int:
    return _WHITESPACE.match(raw, position).end()


def _members(raw: str, start: int, decoder: json.JSONDecoder):
    """(key, value start) for each member of the object at `start`; skips every value not asked about."""
    if raw[start] != "{":
        return
    position = _skip(raw, start + 1)
    if raw[position] == "}":
        return
    while True:
        key, position = json.decoder.scanstring(raw, position + 1)
        position = _skip(raw, _skip(raw, position) + 1)  # past ':'
        value_start = position
        yield key, value_start
        _, position = decoder.raw_decode(raw, value_start)
        position = _skip(raw, position)
        if raw[position] == "}":
            return
        position = _skip(raw, position + 1)  # past ','


def _elements(raw: str, start: int, decoder: json.JSONDecoder):
    """The start of each element of the array at `start`."""
    if raw[start] != "[":
        return
    position = _skip(raw, start + 1)
    if raw[position] == "]":
        return
    while True:
        yield position
        _, position = decoder.raw_decode(raw, position)
        position = _skip(raw, position)
        if raw[position] == "]":
            return
        position = _skip(raw, position + 1)
