"""How safe a repair is, apart from the repair itself: findings, the cache and the reports carry it without libcst."""

from __future__ import annotations

import enum


class FixSafety(str, enum.Enum):
    """Ruff's distinction: safe fixes keep behaviour; unsafe ones may change it and need --unsafe-fixes."""

    SAFE = "safe"
    UNSAFE = "unsafe"
