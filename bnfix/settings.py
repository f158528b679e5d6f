"""The options every command shares, resolved from pyproject.toml and flags."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class PlacementPolicy(str, enum.Enum):
    """Where BatchNormalization goes relative to the activation (see DESIGN.md: the evidence is mixed)."""

    POST = "post"  # layer -> activation -> BN (the seed document)
    PRE = "pre"  # layer -> BN -> activation (Ioffe & Szegedy; keras.applications)
    KEEP = "keep"  # never move BN


@dataclass(frozen=True)
class Settings:
    policy: PlacementPolicy = PlacementPolicy.POST
    select: tuple[str, ...] = ()  # code prefixes; empty means every rule
    ignore: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    unsafe_fixes: bool = False
    # Target Keras (major, minor); None means "the newest" (BNF201 uses it for renorm*).
    keras_version: tuple[int, int] | None = None
    # Where the result cache lives (an absolute path resolved by config); None: .bnfix_cache in the working directory.
    cache_dir: str | None = field(default=None, compare=False)
    # Where each rule's documentation is linked to (`{code}` is replaced); None: the page installed with bnfix.
    docs_url: str | None = field(default=None, compare=False)
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def is_enabled(self, code: str) -> bool:
        """Ruff semantics: a code runs when a select prefix matches (or none is given) and no ignore prefix does."""
        selected = not self.select or any(code.startswith(prefix) for prefix in self.select)
        return selected and not any(code.startswith(prefix) for prefix in self.ignore)
