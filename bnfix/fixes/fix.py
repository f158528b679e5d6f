"""What a repair is: node replacements applied together or not at all, and how safe they are."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Union

import libcst as cst

from bnfix.fixes.safety import FixSafety

Replacement = Union[cst.CSTNode, cst.RemovalSentinel, cst.FlattenSentinel]


@dataclass(frozen=True)
class Fix:
    """Node replacements that repair one violation, applied together or not at all."""

    changes: Mapping[cst.CSTNode, Replacement]
    description: str
    safety: FixSafety = FixSafety.SAFE
    # (module, name) pairs the new code refers to; the engine adds the imports when missing.
    imports: tuple[tuple[str, str], ...] = ()
