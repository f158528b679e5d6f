"""The order in which the runs of a `bnfix verify` session go to the workers.

Two workers share the runs, and the session ends when the slower one finishes its last run: a long run started
last leaves the other core idle until it ends. So every version's first seed goes first (in the order of the
scripts, which is also when their progress lines can appear), and the remaining seeds follow longest first, by the
time that version's finished runs took (longest-processing-time first: the tail is the shortest runs). A version
whose first run is still going counts as long, since nothing says it is short.
"""

from __future__ import annotations

import math
from typing import Generic, Hashable, Protocol, Sequence, TypeVar


class Schedulable(Protocol):
    @property
    def key(self) -> Hashable: ...  # the version of a script: its seeds share one measured duration


Unit = TypeVar("Unit", bound=Schedulable)


class RunQueue(Generic[Unit]):
    """Not thread-safe by itself: the runner holds its lock around every call."""

    def __init__(self, units: Sequence[Unit]) -> None:
        first: dict[Hashable, Unit] = {}
        rest: list[Unit] = []
        for unit in units:
            if unit.key in first:
                rest.append(unit)
            else:
                first[unit.key] = unit
        self._first = list(first.values())
        self._rest = rest
        self._seconds: dict[Hashable, float] = {}

    def __len__(self) -> int:
        return len(self._first) + len(self._rest)

    def pop(self) -> Unit | None:
        if self._first:
            return self._first.pop(0)
        if not self._rest:
            return None
        longest = max(range(len(self._rest)), key=lambda i: self._seconds.get(self._rest[i].key, math.inf))
        return self._rest.pop(longest)  # max() keeps the earliest of equals: the scripts' order

    def finished(self, unit: Unit, seconds: float) -> None:
        self._seconds[unit.key] = max(seconds, self._seconds.get(unit.key, 0.0))

    def clear(self) -> None:
        self._first.clear()
        self._rest.clear()
