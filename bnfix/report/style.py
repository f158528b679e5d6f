"""Colour for people at a terminal, and none anywhere else: pipes, files, CI logs and editors get plain text.

NO_COLOR (no-color.org) turns colour off and FORCE_COLOR (force-color.org) turns it on whatever the stream is;
NO_COLOR wins when both are set, as in rich. Styles follow ruff's: bold paths, red codes, a cyan fix marker.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass


def colour_wanted(stream) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    try:
        return stream.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):
        return False


@functools.lru_cache(maxsize=None)
def _ansi(style: str) -> tuple[str, str]:
    """The escape codes around a text in `style` (rich is imported only when colour is really on)."""
    from rich.color import ColorSystem
    from rich.style import Style

    marker = "\0"
    before, after = Style.parse(style).render(marker, color_system=ColorSystem.STANDARD).split(marker)
    return before, after


@dataclass(frozen=True)
class Palette:
    enabled: bool = False

    def paint(self, text: str, style: str) -> str:
        if not self.enabled or not text:
            return text
        before, after = _ansi(style)
        return before + text + after

    def path(self, text: str) -> str:
        return self.paint(text, "bold")

    def code(self, text: str) -> str:
        return self.paint(text, "bold red")

    def marker(self, text: str) -> str:
        return self.paint(text, "cyan")

    def error(self, text: str) -> str:
        return self.paint(text, "bold red")

    def success(self, text: str) -> str:
        return self.paint(text, "bold green")

    def added(self, text: str) -> str:
        return self.paint(text, "green")

    def removed(self, text: str) -> str:
        return self.paint(text, "red")

    def hunk(self, text: str) -> str:
        return self.paint(text, "cyan")


PLAIN = Palette(False)


def palette_for(stream) -> Palette:
    return Palette(colour_wanted(stream))
